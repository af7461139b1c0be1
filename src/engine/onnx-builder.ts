/**
 * A small, typed writer for ONNX graphs (default domain, opset 17) on top of onnx-proto.
 * Every engine graph (inference export, training step, input gradients) is emitted through it.
 */
import onnxProto from 'onnx-proto';

export const { onnx } = onnxProto;
export const OPSET = 17;

export type Dim = number | string;
export type AttrValue = number | number[] | string | { float: number } | { floats: number[] } | { tensor: onnxProto.onnx.ITensorProto };
export type Attrs = Record<string, AttrValue>;

const FLOAT = 1;
const INT64 = 7;
const BOOL = 9;
const DOUBLE = 11;

export type ElemType = 'float' | 'int64' | 'bool' | 'double';
const elemCode: Record<ElemType, number> = { float: FLOAT, int64: INT64, bool: BOOL, double: DOUBLE };

function attribute(name: string, v: AttrValue): onnxProto.onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw new Error(`attribute ${name}: non-integer ${v} must be given as { float }`);
    return { name, type: T.INT, i: v };
  }
  if (typeof v === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return { name, type: T.INTS, ints: v };
  if ('float' in v) return { name, type: T.FLOAT, f: v.float };
  if ('floats' in v) return { name, type: T.FLOATS, floats: v.floats };
  return { name, type: T.TENSOR, t: v.tensor };
}

/** A float32 tensor as an ONNX TensorProto (raw little-endian bytes). */
export function floatTensorProto(name: string, dims: number[], data: Float32Array): onnxProto.onnx.ITensorProto {
  const bytes = new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
  return { name, dims, dataType: FLOAT, rawData: bytes };
}

function int64TensorProto(name: string, dims: number[], values: number[]): onnxProto.onnx.ITensorProto {
  const b = new BigInt64Array(values.map((v) => BigInt(v)));
  return { name, dims, dataType: INT64, rawData: new Uint8Array(b.buffer) };
}

function valueInfo(name: string, elem: ElemType, dims: Dim[]): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: elemCode[elem],
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

/**
 * Accumulates nodes, initializers, inputs and outputs; `toBytes()` serialises a ModelProto.
 *
 * @example
 *   const b = new OnnxGraphBuilder('g');
 *   b.input('x', [ 'N', 4 ]);
 *   b.output(b.op('Relu', ['x']), 'y', [ 'N', 4 ]);
 *   const bytes = b.toBytes();
 */
export class OnnxGraphBuilder {
  private nodes: onnxProto.onnx.INodeProto[] = [];
  private inits: onnxProto.onnx.ITensorProto[] = [];
  private inputs: onnxProto.onnx.IValueInfoProto[] = [];
  private outputs: onnxProto.onnx.IValueInfoProto[] = [];
  private counter = 0;
  private constCache = new Map<string, string>();

  constructor(readonly graphName: string, readonly prefix = 't') {}

  fresh(hint = ''): string {
    return `${this.prefix}${this.counter++}${hint ? '_' + hint : ''}`;
  }

  input(name: string, dims: Dim[], elem: ElemType = 'float'): string {
    this.inputs.push(valueInfo(name, elem, dims));
    return name;
  }

  /** Declares `value` as a graph output named `name` (adds an Identity when the names differ). */
  output(value: string, name: string, dims: Dim[], elem: ElemType = 'float'): void {
    if (value !== name) this.nodes.push({ opType: 'Identity', input: [value], output: [name], name: `out_${name}` });
    this.outputs.push(valueInfo(name, elem, dims));
  }

  initializer(name: string, dims: number[], data: Float32Array): string {
    this.inits.push(floatTensorProto(name, dims, data));
    return name;
  }

  /** A float constant (cached by value so repeated scalars share one initializer). */
  constF(values: number[] | Float32Array, dims: number[]): string {
    const arr = values instanceof Float32Array ? values : Float32Array.from(values);
    const key = arr.length <= 16 ? `f:${dims.join(',')}:${Array.from(arr).join(',')}` : '';
    if (key && this.constCache.has(key)) return this.constCache.get(key)!;
    const name = this.fresh('c');
    this.inits.push(floatTensorProto(name, dims, arr));
    if (key) this.constCache.set(key, name);
    return name;
  }

  scalar(v: number): string {
    return this.constF([v], []);
  }

  constI64(values: number[], dims: number[] = [values.length]): string {
    const key = `i:${dims.join(',')}:${values.join(',')}`;
    if (this.constCache.has(key)) return this.constCache.get(key)!;
    const name = this.fresh('i');
    this.inits.push(int64TensorProto(name, dims, values));
    this.constCache.set(key, name);
    return name;
  }

  /** Adds one node and returns its output names. */
  opN(opType: string, inputs: string[], nOut: number, attrs: Attrs = {}): string[] {
    const output = Array.from({ length: nOut }, () => this.fresh(opType.toLowerCase()));
    this.nodes.push({
      opType,
      input: inputs,
      output,
      name: output[0],
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return output;
  }

  op(opType: string, inputs: string[], attrs: Attrs = {}): string {
    return this.opN(opType, inputs, 1, attrs)[0]!;
  }

  /** Adds a node whose single output gets a chosen name (for graph outputs that must be stable). */
  opNamed(opType: string, inputs: string[], outName: string, attrs: Attrs = {}): string {
    this.nodes.push({
      opType,
      input: inputs,
      output: [outName],
      name: outName,
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return outName;
  }

  toBytes(producer = 'radml'): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: 8,
      producerName: producer,
      opsetImport: [{ domain: '', version: OPSET }],
      graph: {
        name: this.graphName,
        node: this.nodes,
        initializer: this.inits,
        input: this.inputs,
        output: this.outputs,
      },
    });
    return onnx.ModelProto.encode(model).finish();
  }
}
