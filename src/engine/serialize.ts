/**
 * ParamSet serialisation (safetensors-like): 8 bytes magic `RADMLPS1`, a little-endian uint32
 * header length, a UTF-8 JSON header listing tensors (group, name, shape, offset in floats), padding
 * to a multiple of 4 bytes, then raw little-endian float32 data.
 */
import { z } from 'zod';
import { InputError } from '../util/errors.js';
import type { NamedTensor, ParamSet } from './graph.js';

const MAGIC = 'RADMLPS1';

const headerSchema = z.object({
  format: z.literal('radml-params'),
  version: z.literal(1),
  tensors: z.array(z.object({
    group: z.enum(['trainable', 'buffers']),
    name: z.string().min(1),
    shape: z.array(z.number().int().nonnegative()),
    offset: z.number().int().nonnegative(),
  })),
});

/**
 * @example const bytes = serializeParams(params); const back = deserializeParams(bytes);
 */
export function serializeParams(p: ParamSet): Uint8Array {
  const entries: z.infer<typeof headerSchema>['tensors'] = [];
  let offset = 0;
  const all: [('trainable' | 'buffers'), NamedTensor][] = [
    ...p.trainable.map((t) => ['trainable', t] as ['trainable', NamedTensor]),
    ...p.buffers.map((t) => ['buffers', t] as ['buffers', NamedTensor]),
  ];
  for (const [group, t] of all) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (n !== t.data.length) throw new InputError('PARAMS_INVALID', `tensor "${t.name}" has ${t.data.length} values for shape [${t.shape}]`);
    entries.push({ group, name: t.name, shape: t.shape.slice(), offset });
    offset += n;
  }
  const header = new TextEncoder().encode(JSON.stringify({ format: 'radml-params', version: 1, tensors: entries }));
  const pad = (4 - ((8 + 4 + header.length) % 4)) % 4;
  const headerLen = header.length + pad;
  const out = new Uint8Array(12 + headerLen + offset * 4);
  out.set(new TextEncoder().encode(MAGIC), 0);
  new DataView(out.buffer).setUint32(8, headerLen, true);
  out.set(header, 12);
  out.fill(0x20, 12 + header.length, 12 + headerLen); // JSON tolerates trailing spaces
  const dv = new DataView(out.buffer, 12 + headerLen);
  let k = 0;
  for (const [, t] of all) for (let i = 0; i < t.data.length; i++) dv.setFloat32(4 * k++, t.data[i]!, true);
  return out;
}

export function deserializeParams(bytes: Uint8Array, file = 'parameters'): ParamSet {
  const bad = (why: string): never => {
    throw new InputError('PARAMS_INVALID', `${file}: ${why}`, { file });
  };
  if (bytes.length < 12 || new TextDecoder().decode(bytes.subarray(0, 8)) !== MAGIC) bad('not a radml parameter file (bad magic)');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = dv.getUint32(8, true);
  if (12 + headerLen > bytes.length) bad('truncated header');
  let header: z.infer<typeof headerSchema>;
  try {
    header = headerSchema.parse(JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + headerLen))));
  } catch (e) {
    return bad(`unreadable header (${(e as Error).message.slice(0, 200)})`);
  }
  const dataStart = 12 + headerLen;
  const floats = (bytes.length - dataStart) / 4;
  const p: ParamSet = { trainable: [], buffers: [] };
  for (const t of header.tensors) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (t.offset + n > floats) bad(`truncated data for "${t.name}"`);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = dv.getFloat32(dataStart + 4 * (t.offset + i), true);
    p[t.group].push({ name: t.name, shape: t.shape, data });
  }
  return p;
}
