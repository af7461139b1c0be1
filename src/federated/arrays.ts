/**
 * A radml model's weights as Flower arrays: every trainable tensor and BatchNorm buffer by its
 * engine name (`block1.conv.weight`, `block1.bn.running_mean`, …) as a float32 array, in ParamSet
 * order. The same names are the ArrayRecord keys a ServerApp sees and the `.npy` entries of the
 * `.npz` files `radml federate export-arrays` / `import-arrays` exchange.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32, deflateRawSync, inflateRawSync } from 'node:zlib';
import {
  buildArchitecture, exportInferenceModel, deserializeParams, serializeParams, type ArchSpec, type LayerGraph, type ParamSet,
} from '../engine/index.js';
import { loadCheckpoint } from '../train/checkpoint.js';
import { loadModelFolder, type ModelJson, writeModelFolder } from '../train/model-folder.js';
import { writeFileAtomic } from '../util/atomic.js';
import { InputError } from '../util/errors.js';
import { arrayValues, float32Array, type FlwrArray, npyFloat32, readNpy } from './objects.js';

/** Parameters written by import-arrays (and federated training) into a model folder, hashed like model.onnx. */
export const PARAMS_FILE = 'params.bin';

export interface ModelWeights {
  meta: ModelJson;
  graph: LayerGraph;
  params: ParamSet;
}

/**
 * The layer graph and parameters of a radml-trained model folder (artefacts verified): params.bin
 * when present, else the checkpoint's best parameters (what model.onnx was exported from).
 *
 * @example const { graph, params } = loadModelWeights('models/pneumonia');
 */
export function loadModelWeights(dir: string): ModelWeights {
  const { meta } = loadModelFolder(dir);
  if (!meta.architecture) throw new InputError('FEDERATE_MODEL', `${dir}: an imported ONNX model has no radml architecture; federated training needs a model trained by radml (\`radml train\`)`, { file: dir });
  const graph = buildArchitecture(meta.architecture as ArchSpec, { inChannels: meta.input.channels, imageSize: meta.input.size, numOutputs: meta.classes.length });
  let params: ParamSet;
  if (existsSync(join(dir, PARAMS_FILE))) {
    if (!(PARAMS_FILE in meta.artefacts)) throw new InputError('MODEL_TAMPERED', `${join(dir, PARAMS_FILE)}: not listed in model.json; refusing unverified weights`, { file: dir });
    params = deserializeParams(new Uint8Array(readFileSync(join(dir, PARAMS_FILE))), join(dir, PARAMS_FILE));
  } else {
    const ck = loadCheckpoint(dir);
    if (!ck) throw new InputError('FEDERATE_MODEL', `${dir}: no ${PARAMS_FILE} and no checkpoint/ to read the unfolded weights from (BatchNorm is folded into model.onnx)`, { file: dir });
    params = ck.bestParams;
  }
  checkAgainstGraph(graph, params, dir);
  return { meta, graph, params };
}

function checkAgainstGraph(graph: LayerGraph, p: ParamSet, where: string): void {
  const want = [...graph.params.map((s) => [s.name, s.shape] as const), ...graph.buffers.map((s) => [s.name, s.shape] as const)];
  const have = new Map([...p.trainable, ...p.buffers].map((t) => [t.name, t.shape]));
  for (const [name, shape] of want) {
    const s = have.get(name);
    if (!s) throw new InputError('FEDERATE_ARRAYS', `${where}: no tensor "${name}" for the model's architecture`);
    if (s.join(',') !== shape.join(',')) throw new InputError('FEDERATE_ARRAYS', `${where}: tensor "${name}" has shape [${s}], the architecture needs [${shape}]`);
  }
}

/** Parameters and buffers as named Flower arrays (ParamSet order). */
export function paramsToArrays(p: ParamSet): Map<string, FlwrArray> {
  return new Map([...p.trainable, ...p.buffers].map((t) => [t.name, float32Array(t.data, t.shape)]));
}

/**
 * Parameters from named arrays: exactly the model's tensor names with its shapes (a missing,
 * extra or mis-shaped array is an error naming it).
 */
export function arraysToParams(template: ParamSet, arrays: Map<string, { shape: number[]; data: Float32Array }>, where: string): ParamSet {
  const names = new Set([...template.trainable, ...template.buffers].map((t) => t.name));
  for (const k of arrays.keys()) if (!names.has(k)) throw new InputError('FEDERATE_ARRAYS', `${where}: array "${k}" is not a tensor of this model`);
  const take = (t: ParamSet['trainable'][number]) => {
    const a = arrays.get(t.name);
    if (!a) throw new InputError('FEDERATE_ARRAYS', `${where}: array "${t.name}" is missing`);
    if (a.shape.join(',') !== t.shape.join(',')) throw new InputError('FEDERATE_ARRAYS', `${where}: array "${t.name}" has shape [${a.shape}], the model needs [${t.shape}]`);
    for (let i = 0; i < a.data.length; i++) if (!Number.isFinite(a.data[i]!)) throw new InputError('FEDERATE_ARRAYS', `${where}: array "${t.name}" holds a non-finite value`);
    return { name: t.name, shape: t.shape.slice(), data: Float32Array.from(a.data) };
  };
  return { trainable: template.trainable.map(take), buffers: template.buffers.map(take) };
}

/** Decode Flower arrays (numpy.ndarray stype) to float32 values. */
export function flwrArraysValues(arrays: Map<string, FlwrArray>): Map<string, { shape: number[]; data: Float32Array }> {
  return new Map([...arrays].map(([k, a]) => [k, arrayValues(a, `array "${k}"`)]));
}

// ---------------------------------------------------------------- .npz (zip of .npy)

function dosTime(d: Date): { time: number; date: number } {
  return { time: (d.getHours() << 11) | (d.getMinutes() << 5) | (d.getSeconds() >> 1), date: ((d.getFullYear() - 1980) << 9) | ((d.getMonth() + 1) << 5) | d.getDate() };
}

/**
 * An `.npz` (what `numpy.savez_compressed` writes: a zip of `<name>.npy`, deflated) of float32 arrays.
 *
 * @example writeFileSync('w.npz', writeNpz(new Map([['w', { shape: [2], data: new Float32Array([1, 2]) }]])));
 */
export function writeNpz(arrays: Map<string, { shape: number[]; data: Float32Array }>, when = new Date(0)): Uint8Array {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  const { time, date } = dosTime(when.getTime() === 0 ? new Date(1980, 0, 1) : when);
  for (const [name, a] of arrays) {
    const raw = npyFloat32(a.data, a.shape);
    const comp = deflateRawSync(raw);
    const fname = Buffer.from(`${name}.npy`, 'utf8');
    const crc = crc32(raw) >>> 0;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt16LE(8, 8);
    local.writeUInt16LE(time, 10);
    local.writeUInt16LE(date, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(comp.length, 18);
    local.writeUInt32LE(raw.length, 22);
    local.writeUInt16LE(fname.length, 26);
    local.writeUInt16LE(0, 28);
    const cen = Buffer.alloc(46);
    cen.writeUInt32LE(0x02014b50, 0);
    cen.writeUInt16LE(20, 4);
    cen.writeUInt16LE(20, 6);
    cen.writeUInt16LE(0x0800, 8);
    cen.writeUInt16LE(8, 10);
    cen.writeUInt16LE(time, 12);
    cen.writeUInt16LE(date, 14);
    cen.writeUInt32LE(crc, 16);
    cen.writeUInt32LE(comp.length, 20);
    cen.writeUInt32LE(raw.length, 24);
    cen.writeUInt16LE(fname.length, 28);
    cen.writeUInt32LE(offset, 42);
    parts.push(local, fname, comp);
    central.push(cen, fname);
    offset += local.length + fname.length + comp.length;
  }
  const cd = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(arrays.size, 8);
  end.writeUInt16LE(arrays.size, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return new Uint8Array(Buffer.concat([...parts, cd, end]));
}

/** Read an `.npz` (stored or deflated entries; names without `.npy`), float32/float64 arrays as float32. */
export function readNpz(bytes: Uint8Array, file: string): Map<string, { shape: number[]; data: Float32Array }> {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const bad = (why: string): never => {
    throw new InputError('NPZ_INVALID', `${file}: ${why}`, { file });
  };
  let eocd = -1;
  for (let i = b.length - 22; i >= Math.max(0, b.length - 65_557); i--) if (b.readUInt32LE(i) === 0x06054b50) { eocd = i; break; }
  if (eocd < 0) bad('not a zip/.npz file (no end-of-central-directory record)');
  const count = b.readUInt16LE(eocd + 10);
  let p = b.readUInt32LE(eocd + 16);
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  for (let k = 0; k < count; k++) {
    if (b.readUInt32LE(p) !== 0x02014b50) bad('corrupt central directory');
    const method = b.readUInt16LE(p + 10);
    const csize = b.readUInt32LE(p + 20);
    const nlen = b.readUInt16LE(p + 28);
    const xlen = b.readUInt16LE(p + 30);
    const clen = b.readUInt16LE(p + 32);
    const lho = b.readUInt32LE(p + 42);
    const name = b.subarray(p + 46, p + 46 + nlen).toString('utf8');
    p += 46 + nlen + xlen + clen;
    if (b.readUInt32LE(lho) !== 0x04034b50) bad(`corrupt local header for ${name}`);
    const start = lho + 30 + b.readUInt16LE(lho + 26) + b.readUInt16LE(lho + 28);
    const data = b.subarray(start, start + csize);
    let raw: Uint8Array;
    if (method === 0) raw = data;
    else if (method === 8) raw = inflateRawSync(data);
    else return bad(`entry ${name}: compression method ${method} is not supported`);
    if (!name.endsWith('.npy')) bad(`entry ${name} is not a .npy array`);
    try {
      out.set(name.slice(0, -4), readNpy(raw, `${file}: ${name}`));
    } catch (e) {
      bad((e as Error).message);
    }
  }
  return out;
}

/**
 * The model's weights as an `.npz` (names as in the ArrayRecord).
 *
 * @example exportArrays('models/base', 'arrays.npz');
 */
export function exportArrays(modelDir: string, out: string): { arrays: number; values: number } {
  const { params } = loadModelWeights(modelDir);
  const m = new Map([...params.trainable, ...params.buffers].map((t) => [t.name, { shape: t.shape, data: t.data }]));
  writeFileAtomic(out, writeNpz(m));
  return { arrays: m.size, values: [...m.values()].reduce((s, a) => s + a.data.length, 0) };
}

/**
 * Write a new, complete model folder: `base`'s architecture, classes and preprocessing with `params`
 * (model.onnx re-exported with BatchNorm folded, params.bin, SHA-256 of both in model.json) and
 * `federation` as its provenance record.
 */
export function writeWeightsFolder(out: string, base: ModelWeights, params: ParamSet, federation: Record<string, unknown>): ModelJson {
  checkAgainstGraph(base.graph, params, out);
  const activation = base.meta.labelKind === 'multilabel' ? 'sigmoid' : 'softmax';
  const onnx = exportInferenceModel(base.graph, params, { outputs: 'logits+probabilities', activation });
  writeFileAtomic(join(out, PARAMS_FILE), serializeParams(params));
  const { artefacts: _a, createdAt: _c, ...rest } = base.meta;
  return writeModelFolder(out, onnx, { ...rest, validation: null, operatingPoints: undefined, operatingPointRule: undefined, federation }, [PARAMS_FILE]);
}

/**
 * `radml federate import-arrays`: the model in `modelDir` with the weights of `npzFile`.
 *
 * @example importArrays('models/base', 'global.npz', 'models/federated');
 */
export function importArrays(modelDir: string, npzFile: string, out: string, federation: Record<string, unknown> = {}): ModelJson {
  if (!existsSync(npzFile)) throw new InputError('FILE_UNREADABLE', `${npzFile}: no such file`, { file: npzFile });
  const base = loadModelWeights(modelDir);
  const arrays = readNpz(new Uint8Array(readFileSync(npzFile)), npzFile);
  const params = arraysToParams(base.params, arrays, npzFile);
  return writeWeightsFolder(out, base, params, { source: 'import-arrays', arrays: npzFile, baseModel: modelDir, ...federation });
}
