/**
 * Flower's content-addressed object trees (flwr ≥ 1.20 "inflatable objects"): a Message, its
 * RecordDict, the records (ArrayRecord, ConfigRecord, MetricRecord), Arrays and ArrayChunks, each
 * serialised as `"<Type> <child ids,> <body length>" 0x00 <body>` and named by the SHA-256 of those
 * bytes. radml builds them byte for byte as flwr does (Python `json.dumps` spacing and ASCII
 * escaping, deterministic protobuf, numpy's `.npy` v1.0 header), so the SuperLink's de-duplication
 * and id checks treat a radml site exactly like a Python one; test/federated/objects.test.ts compares
 * ids with objects flwr builds.
 */
import { createHash } from 'node:crypto';
import { RadmlError } from '../util/errors.js';
import { decode, encode, s64, u64, big } from './proto.js';

/** Flower's chunk size for array data (FLWR_PRIVATE_MAX_ARRAY_CHUNK_SIZE default, 5 MiB). */
export const ARRAY_CHUNK_SIZE = 5_242_880;

export class FlowerObjectError extends RadmlError {
  constructor(message: string) {
    super('FLOWER_OBJECT', message);
  }
}

/** One array as Flower carries it: `data` is a whole `.npy` file when stype is `numpy.ndarray`. */
export interface FlwrArray {
  dtype: string;
  shape: number[];
  stype: string;
  data: Uint8Array;
}

export type ConfigScalar = number | bigint | boolean | string | Uint8Array;
/** number → double, bigint → sint64 (uint64 above 2^63 − 1), as Python's float / int. */
export type ConfigValue = ConfigScalar | number[] | bigint[] | boolean[] | string[] | Uint8Array[];
export type MetricValue = number | bigint | number[] | bigint[];

export type FlwrRecord =
  | { kind: 'array'; arrays: Map<string, FlwrArray> }
  | { kind: 'config'; values: Map<string, ConfigValue> }
  | { kind: 'metric'; values: Map<string, MetricValue> };
export type RecordDict = Map<string, FlwrRecord>;

/** flwr.proto.Metadata as radml holds it (ids as bigint; absent task ids undefined). */
export interface Metadata {
  runId: bigint;
  messageId: string;
  srcNodeId: bigint;
  dstNodeId: bigint;
  replyToMessageId: string;
  groupId: string;
  ttl: number;
  messageType: string;
  createdAt: number;
  srcTaskId?: bigint;
  dstTaskId?: bigint;
}

export interface ObjectTree {
  object_id: string;
  children: ObjectTree[];
}

/** A deflated object tree: every object's bytes by id (post-order, children first) and the tree. */
export interface DeflatedTree {
  rootId: string;
  objects: Map<string, Uint8Array>;
  tree: ObjectTree;
}

// ---------------------------------------------------------------- byte-level helpers

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Python `json.dumps` of a string (ensure_ascii: everything outside space..~ escaped as \uXXXX). */
function pyJsonString(s: string): string {
  return JSON.stringify(s).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Python `json.dumps` of a flat dict of strings, ints or int lists (default separators). */
export function pyJson(entries: [string, string | number | number[]][]): string {
  const v = (x: string | number | number[]): string => (typeof x === 'string' ? pyJsonString(x) : typeof x === 'number' ? String(x) : `[${x.join(', ')}]`);
  return `{${entries.map(([k, x]) => `${pyJsonString(k)}: ${v(x)}`).join(', ')}}`;
}

/** `<Type> <ids> <len>\0<body>`. */
export function objectBytes(type: string, childIds: string[], body: Uint8Array): Uint8Array {
  const head = new TextEncoder().encode(`${type} ${childIds.join(',')} ${body.length}`);
  const out = new Uint8Array(head.length + 1 + body.length);
  out.set(head, 0);
  out[head.length] = 0;
  out.set(body, head.length + 1);
  return out;
}

/** Split object bytes into type, child ids and body, checking the declared body length. */
export function parseObject(bytes: Uint8Array, id = '(object)'): { type: string; children: string[]; body: Uint8Array } {
  const nul = bytes.indexOf(0);
  if (nul < 0) throw new FlowerObjectError(`${id}: no header/body divider`);
  const head = new TextDecoder().decode(bytes.subarray(0, nul)).split(' ');
  if (head.length !== 3) throw new FlowerObjectError(`${id}: malformed header`);
  const body = bytes.subarray(nul + 1);
  if (Number(head[2]) !== body.length) throw new FlowerObjectError(`${id}: header says ${head[2]} body bytes, object has ${body.length}`);
  return { type: head[0]!, children: head[1] ? head[1].split(',') : [], body };
}

// ---------------------------------------------------------------- .npy v1.0

const NPY_MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];

function pyTuple(shape: number[]): string {
  if (shape.length === 0) return '()';
  if (shape.length === 1) return `(${shape[0]},)`;
  return `(${shape.join(', ')})`;
}

/**
 * A `.npy` v1.0 file of float32 values, byte-identical to `numpy.save` (header padded to 64 bytes,
 * including numpy's reserve for growing the first axis).
 *
 * @example const npy = npyFloat32(new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3]);
 */
export function npyFloat32(values: Float32Array, shape: number[]): Uint8Array {
  const n = shape.reduce((a, b) => a * b, 1);
  if (n !== values.length) throw new FlowerObjectError(`array of ${values.length} values does not fit shape [${shape}]`);
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${pyTuple(shape)}, }`;
  // numpy ≥ 1.24 leaves room for the first axis to grow to 21 digits in place.
  if (shape.length > 0) header += ' '.repeat(21 - String(shape[0]).length);
  const hlen = header.length + 1;
  const pad = 64 - ((8 + 2 + hlen) % 64);
  header += ' '.repeat(pad === 64 ? 0 : pad) + '\n';
  const out = new Uint8Array(10 + header.length + 4 * n);
  out.set(NPY_MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  const dv = new DataView(out.buffer, 10 + header.length);
  for (let i = 0; i < n; i++) dv.setFloat32(4 * i, values[i]!, true);
  return out;
}

/** Read a `.npy` (v1/v2/v3) of little-endian float32 or float64 values, C order, as float32. */
export function readNpy(bytes: Uint8Array, what = 'array'): { shape: number[]; data: Float32Array } {
  const bad = (why: string): never => {
    throw new FlowerObjectError(`${what}: ${why}`);
  };
  if (bytes.length < 10 || NPY_MAGIC.some((b, i) => bytes[i] !== b)) bad('not a .npy file (bad magic)');
  const major = bytes[6]!;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hlen = major === 1 ? dv.getUint16(8, true) : dv.getUint32(8, true);
  const start = major === 1 ? 10 : 12;
  const header = new TextDecoder('latin1').decode(bytes.subarray(start, start + hlen));
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || !fortran || shapeText === undefined) bad('unreadable .npy header');
  if (fortran === 'True') bad('Fortran-ordered arrays are not supported; save in C order');
  const shape = shapeText!.split(',').map((s) => s.trim()).filter((s) => s.length).map(Number);
  const n = shape.reduce((a, b) => a * b, 1);
  const off = start + hlen;
  const data = new Float32Array(n);
  if (descr === '<f4') {
    if (bytes.length - off < 4 * n) bad('truncated data');
    for (let i = 0; i < n; i++) data[i] = dv.getFloat32(off + 4 * i, true);
  } else if (descr === '<f8') {
    if (bytes.length - off < 8 * n) bad('truncated data');
    for (let i = 0; i < n; i++) data[i] = dv.getFloat64(off + 8 * i, true);
  } else bad(`dtype ${descr} is not supported (float32 or float64 expected)`);
  return { shape, data };
}

/** A float32 numpy array as Flower carries it. */
export function float32Array(values: Float32Array, shape: number[]): FlwrArray {
  return { dtype: 'float32', shape: shape.slice(), stype: 'numpy.ndarray', data: npyFloat32(values, shape) };
}

/** Values of a Flower array (stype numpy.ndarray, float32/float64). */
export function arrayValues(a: FlwrArray, name = 'array'): { shape: number[]; data: Float32Array } {
  if (a.stype !== 'numpy.ndarray') throw new FlowerObjectError(`${name}: stype "${a.stype}" is not supported (numpy.ndarray expected)`);
  return readNpy(a.data, name);
}

// ---------------------------------------------------------------- record bodies

function configValueProto(v: ConfigValue, metric: boolean): Record<string, unknown> {
  const INT64_MAX = (1n << 63n) - 1n;
  const int = (x: bigint): Record<string, unknown> => (x > INT64_MAX ? { uint64: u64(x) } : { sint64: s64(x) });
  if (typeof v === 'boolean' && !metric) return { bool: v };
  if (typeof v === 'bigint') return int(v);
  if (typeof v === 'number') return { double: v };
  if (typeof v === 'string' && !metric) return { string: v };
  if (v instanceof Uint8Array && !metric) return { bytes: v };
  if (Array.isArray(v)) {
    const arr = v as unknown[];
    // Python tries bool first for config records, so an empty list is a BoolList there (int first for metrics).
    if (arr.length === 0) return metric ? { sint_list: { vals: [] } } : { bool_list: { vals: [] } };
    if (!metric && arr.every((x) => typeof x === 'boolean')) return { bool_list: { vals: arr } };
    if (arr.every((x) => typeof x === 'bigint')) {
      const xs = arr as bigint[];
      return xs.some((x) => x > INT64_MAX) ? { uint_list: { vals: xs.map(u64) } } : { sint_list: { vals: xs.map(s64) } };
    }
    if (arr.every((x) => typeof x === 'number')) return { double_list: { vals: arr } };
    if (!metric && arr.every((x) => typeof x === 'string')) return { string_list: { vals: arr } };
    if (!metric && arr.every((x) => x instanceof Uint8Array)) return { bytes_list: { vals: arr } };
  }
  throw new FlowerObjectError(`a value of type ${typeof v} is not allowed in a ${metric ? 'MetricRecord' : 'ConfigRecord'}`);
}

function recordBody(kind: 'config' | 'metric', values: Map<string, ConfigValue>): Uint8Array {
  const items = [...values].map(([key, v]) => ({ key, value: configValueProto(v, kind === 'metric') }));
  return encode(kind === 'config' ? 'ConfigRecord' : 'MetricRecord', { items });
}

function valueFromProto(v: Record<string, unknown>): ConfigValue {
  const field = v['value'] as string | undefined;
  if (!field) throw new FlowerObjectError('a record value with nothing set');
  const x = v[field];
  switch (field) {
    case 'double': case 'bool': case 'string': return x as number | boolean | string;
    case 'bytes': return x as Uint8Array;
    case 'sint64': case 'uint64': return big(x);
    case 'double_list': case 'bool_list': case 'string_list': case 'bytes_list': return (x as { vals: unknown[] }).vals as number[];
    case 'sint_list': case 'uint_list': return (x as { vals: unknown[] }).vals.map(big);
    default: throw new FlowerObjectError(`unknown record value field ${field}`);
  }
}

function readRecordBody(kind: 'config' | 'metric', body: Uint8Array): Map<string, ConfigValue> {
  const m = decode<{ items: { key: string; value: Record<string, unknown> }[] }>(kind === 'config' ? 'ConfigRecord' : 'MetricRecord', body);
  return new Map(m.items.map((it) => [it.key, valueFromProto(it.value)]));
}

// ---------------------------------------------------------------- deflate

class TreeBuilder {
  readonly objects = new Map<string, Uint8Array>();
  add(type: string, children: ObjectTree[], body: Uint8Array, uniqueChildIds?: string[]): ObjectTree {
    const bytes = objectBytes(type, uniqueChildIds ?? children.map((c) => c.object_id), body);
    const id = sha256Hex(bytes);
    this.objects.set(id, bytes);
    return { object_id: id, children };
  }
  array(a: FlwrArray): ObjectTree {
    const chunks: ObjectTree[] = [];
    const unique: string[] = [];
    const index: number[] = [];
    for (let s = 0; s < a.data.length; s += ARRAY_CHUNK_SIZE) {
      const t = this.add('ArrayChunk', [], a.data.subarray(s, Math.min(a.data.length, s + ARRAY_CHUNK_SIZE)));
      let k = unique.indexOf(t.object_id);
      if (k < 0) {
        k = unique.length;
        unique.push(t.object_id);
        chunks.push(t);
      }
      index.push(k);
    }
    const body = pyJson([['dtype', a.dtype], ['shape', a.shape], ['stype', a.stype], ['arraychunk_ids', index]]);
    return this.add('Array', chunks, new TextEncoder().encode(body), unique);
  }
  record(r: FlwrRecord): ObjectTree {
    if (r.kind === 'array') {
      const kids: ObjectTree[] = [];
      const refs: [string, string][] = [];
      const unique: string[] = [];
      for (const [name, a] of r.arrays) {
        const t = this.array(a);
        refs.push([name, t.object_id]);
        if (!unique.includes(t.object_id)) {
          unique.push(t.object_id);
          kids.push(t);
        }
      }
      return this.add('ArrayRecord', kids, new TextEncoder().encode(pyJson(refs)), unique);
    }
    return this.add(r.kind === 'config' ? 'ConfigRecord' : 'MetricRecord', [], recordBody(r.kind, r.values as Map<string, ConfigValue>));
  }
  recordDict(rd: RecordDict): ObjectTree {
    const kids: ObjectTree[] = [];
    const refs: [string, string][] = [];
    const unique: string[] = [];
    for (const [name, r] of rd) {
      const t = this.record(r);
      refs.push([name, t.object_id]);
      if (!unique.includes(t.object_id)) {
        unique.push(t.object_id);
        kids.push(t);
      }
    }
    return this.add('RecordDict', kids, new TextEncoder().encode(pyJson(refs)), unique);
  }
}

/** flwr.proto.Metadata as a plain object for protobufjs, proto3 defaults left out as Python does. */
export function metadataProto(m: Metadata, messageId = m.messageId): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  if (m.runId) o['run_id'] = u64(m.runId);
  if (messageId) o['message_id'] = messageId;
  if (m.srcNodeId) o['src_node_id'] = u64(m.srcNodeId);
  if (m.dstNodeId) o['dst_node_id'] = u64(m.dstNodeId);
  if (m.replyToMessageId) o['reply_to_message_id'] = m.replyToMessageId;
  if (m.groupId) o['group_id'] = m.groupId;
  if (m.ttl) o['ttl'] = m.ttl;
  if (m.messageType) o['message_type'] = m.messageType;
  if (m.createdAt) o['created_at'] = m.createdAt;
  if (m.srcTaskId !== undefined) o['src_task_id'] = u64(m.srcTaskId);
  if (m.dstTaskId !== undefined) o['dst_task_id'] = u64(m.dstTaskId);
  return o;
}

export function metadataFromProto(o: Record<string, unknown>): Metadata {
  const m: Metadata = {
    runId: big(o['run_id']), messageId: String(o['message_id'] ?? ''), srcNodeId: big(o['src_node_id']), dstNodeId: big(o['dst_node_id']),
    replyToMessageId: String(o['reply_to_message_id'] ?? ''), groupId: String(o['group_id'] ?? ''), ttl: Number(o['ttl'] ?? 0),
    messageType: String(o['message_type'] ?? ''), createdAt: Number(o['created_at'] ?? 0),
  };
  if (o['src_task_id'] !== undefined && o['src_task_id'] !== null) m.srcTaskId = big(o['src_task_id']);
  if (o['dst_task_id'] !== undefined && o['dst_task_id'] !== null) m.dstTaskId = big(o['dst_task_id']);
  return m;
}

/** The Message object's body: Message{metadata with message_id "", error?}, never content. */
function messageBody(meta: Metadata, error?: { code: bigint; reason: string }): Uint8Array {
  const o: Record<string, unknown> = { metadata: metadataProto(meta, '') };
  if (error) {
    const e: Record<string, unknown> = {};
    if (error.code) e['code'] = s64(error.code);
    if (error.reason) e['reason'] = error.reason;
    o['error'] = e;
  }
  return encode('Message', o);
}

/**
 * Deflate a message (metadata + content, or an error) into Flower objects. The message's id (its
 * root object id) is what goes into `metadata.message_id` when it is sent.
 *
 * @example const { rootId, objects, tree } = deflateMessage(meta, content);
 */
export function deflateMessage(meta: Metadata, content: RecordDict | null, error?: { code: bigint; reason: string }): DeflatedTree {
  const b = new TreeBuilder();
  const kids = content && !error ? [b.recordDict(content)] : [];
  const tree = b.add('Message', kids, messageBody(meta, error));
  return { rootId: tree.object_id, objects: b.objects, tree };
}

/** Deflate a RecordDict alone (for tests and byte accounting). */
export function deflateRecordDict(rd: RecordDict): DeflatedTree {
  const b = new TreeBuilder();
  const tree = b.recordDict(rd);
  return { rootId: tree.object_id, objects: b.objects, tree };
}

/** Object ids of a tree, children before parents (the order to pull or push them). */
export function postOrder(tree: ObjectTree): string[] {
  const out: string[] = [];
  const walk = (t: ObjectTree): void => {
    for (const c of t.children) walk(c);
    out.push(t.object_id);
  };
  walk(tree);
  return out;
}

// ---------------------------------------------------------------- inflate

function parseRefs(body: Uint8Array, id: string): [string, string][] {
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder().decode(body));
  } catch {
    throw new FlowerObjectError(`${id}: body is not JSON`);
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new FlowerObjectError(`${id}: body is not a JSON object`);
  return Object.entries(v as Record<string, unknown>).map(([k, x]) => {
    if (typeof x !== 'string') throw new FlowerObjectError(`${id}: reference "${k}" is not an object id`);
    return [k, x];
  });
}

/**
 * Rebuild a message's content from its objects (each checked: SHA-256 equals its id, the type
 * expected at that place, children declared in the header present).
 */
export function inflateMessage(rootId: string, objects: Map<string, Uint8Array>): { metadataBody: Record<string, unknown>; content: RecordDict | null; error: { code: bigint; reason: string } | null } {
  const get = (id: string, type: string): { children: string[]; body: Uint8Array } => {
    const bytes = objects.get(id);
    if (!bytes) throw new FlowerObjectError(`object ${id} (${type}) is missing`);
    if (sha256Hex(bytes) !== id) throw new FlowerObjectError(`object ${id}: content does not hash to its id`);
    const p = parseObject(bytes, id);
    if (p.type !== type) throw new FlowerObjectError(`object ${id}: a ${p.type} where a ${type} was expected`);
    return p;
  };
  const msg = get(rootId, 'Message');
  const m = decode<Record<string, unknown>>('Message', msg.body);
  const errObj = m['error'] as { code?: unknown; reason?: string } | null;
  const error = errObj ? { code: big(errObj.code), reason: String(errObj.reason ?? '') } : null;
  if (msg.children.length === 0) return { metadataBody: (m['metadata'] ?? {}) as Record<string, unknown>, content: null, error };
  const rdObj = get(msg.children[0]!, 'RecordDict');
  const content: RecordDict = new Map();
  for (const [name, rid] of parseRefs(rdObj.body, rdObj.children[0] ?? msg.children[0]!)) {
    const bytes = objects.get(rid);
    if (!bytes) throw new FlowerObjectError(`record "${name}" (${rid}) is missing`);
    const type = parseObject(bytes, rid).type;
    if (type === 'ArrayRecord') {
      const ar = get(rid, 'ArrayRecord');
      const arrays = new Map<string, FlwrArray>();
      for (const [an, aid] of parseRefs(ar.body, rid)) {
        const a = get(aid, 'Array');
        let meta: { dtype: string; shape: number[]; stype: string; arraychunk_ids: number[] };
        try {
          meta = JSON.parse(new TextDecoder().decode(a.body)) as typeof meta;
        } catch {
          throw new FlowerObjectError(`array "${an}" (${aid}): body is not JSON`);
        }
        const parts = meta.arraychunk_ids.map((k) => {
          const cid = a.children[k];
          if (cid === undefined) throw new FlowerObjectError(`array "${an}": chunk index ${k} out of range`);
          return get(cid, 'ArrayChunk').body;
        });
        const len = parts.reduce((s, p) => s + p.length, 0);
        const data = new Uint8Array(len);
        let o = 0;
        for (const p of parts) {
          data.set(p, o);
          o += p.length;
        }
        arrays.set(an, { dtype: meta.dtype, shape: meta.shape, stype: meta.stype, data });
      }
      content.set(name, { kind: 'array', arrays });
    } else if (type === 'ConfigRecord' || type === 'MetricRecord') {
      const r = get(rid, type);
      const kind = type === 'ConfigRecord' ? 'config' : 'metric';
      const values = readRecordBody(kind, r.body);
      content.set(name, kind === 'config' ? { kind, values } : { kind, values: values as Map<string, MetricValue> });
    } else throw new FlowerObjectError(`record "${name}": unknown record type ${type}`);
  }
  return { metadataBody: (m['metadata'] ?? {}) as Record<string, unknown>, content, error };
}
