/**
 * The Cornerstone Emscripten codecs (libjpeg-turbo 8-bit, CharLS, OpenJPEG, OpenJPH), loaded from node_modules
 * once, lazily, on first use, and cached for the life of the process.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export interface FrameInfo {
  width: number;
  height: number;
  bitsPerSample: number;
  componentCount: number;
  isSigned?: boolean;
}

/** The embind decoder classes share this shape. */
interface EmbindDecoder {
  getEncodedBuffer(length: number): Uint8Array;
  decode(): void;
  getFrameInfo(): FrameInfo;
  getDecodedBuffer(): Uint8Array;
  getInterleaveMode?: () => number;
  // OpenJPEG only.
  decodeSubResolution?: (level: number, layer: number) => void;
  delete(): void;
}

type DecoderClass = new () => EmbindDecoder;
interface EmscriptenModule {
  [name: string]: unknown;
  getExceptionMessage?: (ptr: number) => string[] | string;
}
type Factory = (moduleArg?: Record<string, unknown>) => Promise<EmscriptenModule>;

export type CodecName = 'libjpeg-turbo' | 'charls' | 'openjpeg' | 'openjph';

const specs: Record<CodecName, { module: string; cls: string }> = {
  'libjpeg-turbo': { module: '@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasmjs', cls: 'JPEGDecoder' },
  charls: { module: '@cornerstonejs/codec-charls/decodewasmjs', cls: 'JpegLSDecoder' },
  openjpeg: { module: '@cornerstonejs/codec-openjpeg/decodewasmjs', cls: 'J2KDecoder' },
  // High-Throughput JPEG 2000 (Part 15): OpenJPH, same embind decoder shape as OpenJPEG's.
  openjph: { module: '@cornerstonejs/codec-openjph/wasmjs', cls: 'HTJ2KDecoder' },
};

const cache = new Map<CodecName, Promise<EmscriptenModule>>();

function load(name: CodecName): Promise<EmscriptenModule> {
  let p = cache.get(name);
  if (!p) {
    const factory = require(specs[name].module) as Factory;
    // OpenJPEG logs "[INFO] …" lines through print; library code must not write to stdout.
    p = factory({ print: () => undefined, printErr: () => undefined });
    p.catch(() => cache.delete(name));
    cache.set(name, p);
  }
  return p;
}

/**
 * Load every codec now (a worker thread calls this once at start, so no image waits for a WASM compile).
 *
 * @example await preloadCodecs();
 */
export async function preloadCodecs(): Promise<void> {
  await Promise.all((Object.keys(specs) as CodecName[]).map((n) => load(n)));
}

export interface DecodedCodestream {
  info: FrameInfo;
  /** Decoded samples copied out of WASM memory: 1 byte per sample up to 8 bits, else 2 (little endian). */
  bytes: Uint8Array;
  /** JPEG-LS only: 0 = by plane, 1 = by line, 2 = by sample. */
  interleaveMode?: number;
}

/** Message for a C++ exception thrown out of WASM (a number) or a JS error. */
function describe(mod: EmscriptenModule, e: unknown): string {
  if (typeof e === 'number') {
    try {
      const m = mod.getExceptionMessage?.(e);
      if (m) return Array.isArray(m) ? m.filter(Boolean).join(': ') : String(m);
    } catch {
      /* fall through */
    }
    return `codec exception ${e}`;
  }
  return e instanceof Error ? e.message : String(e);
}

/**
 * Decode one codestream with a Cornerstone codec. Throws an Error with the codec's message on failure.
 *
 * `level` > 0 (OpenJPEG only) decodes that wavelet resolution level; `reducedSize` is its size
 * (the codec's frame info keeps the full size), reported in `info.width/height`.
 *
 * @example const { info, bytes } = await decodeWithCodec('openjpeg', j2kBytes);
 */
export async function decodeWithCodec(
  name: CodecName,
  encoded: Uint8Array,
  opts: { level?: number; reducedSize?: { width: number; height: number } } = {},
): Promise<DecodedCodestream> {
  const mod = await load(name);
  const Decoder = mod[specs[name].cls] as DecoderClass;
  const decoder = new Decoder();
  try {
    decoder.getEncodedBuffer(encoded.length).set(encoded);
    const level = opts.level ?? 0;
    const reduced = level > 0 ? opts.reducedSize : undefined;
    try {
      if (level > 0 && reduced && decoder.decodeSubResolution) decoder.decodeSubResolution(level, 0);
      else decoder.decode();
    } catch (e) {
      throw new Error(`${name}: ${describe(mod, e)}`);
    }
    const info = { ...decoder.getFrameInfo(), ...(reduced ?? {}) };
    const view = decoder.getDecodedBuffer();
    // Copy: the view aliases WASM memory that the next decode reuses or grows.
    const bytes = new Uint8Array(view.length);
    bytes.set(view);
    const result: DecodedCodestream = { info, bytes };
    if (typeof decoder.getInterleaveMode === 'function') result.interleaveMode = decoder.getInterleaveMode();
    return result;
  } finally {
    decoder.delete();
  }
}
