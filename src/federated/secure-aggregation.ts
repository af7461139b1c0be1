/**
 * Secure aggregation by pairwise masking with dropout recovery (after Bonawitz et al. 2017,
 * "Practical Secure Aggregation for Privacy-Preserving Machine Learning"), as an in-process
 * simulation of the protocol's rounds with real cryptography:
 *
 *  1. every client has an X25519 key pair; each pair of clients derives a shared seed (ECDH + HKDF);
 *  2. every client Shamir-shares (t of n, GF(2⁸) byte-wise) its X25519 private key and a fresh
 *     self-mask seed with the others;
 *  3. a client sends y = q(x) + PRG(b) + Σ_{j>i} PRG(s_ij) − Σ_{j<i} PRG(s_ij)  (mod 2³²), where q is
 *     fixed-point quantisation;
 *  4. for each surviving client the others reveal shares of its self-mask seed; for each client that
 *     dropped out after key exchange they reveal shares of its private key, so the server can remove
 *     the pairwise masks it left in the survivors' vectors. The server learns only Σ x over survivors.
 * The masks are AES-256-CTR keystreams. Weighted averaging: clients send n·x and n.
 */
import { createCipheriv, createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, hkdfSync, randomBytes, type KeyObject } from 'node:crypto';
import { InputError } from '../util/errors.js';

// ---------------------------------------------------------------- GF(2^8) Shamir

const EXP = new Uint8Array(512);
const LOG = new Uint8Array(256);
(() => {
  let x = 1;
  for (let i = 0; i < 255; i++) {
    EXP[i] = x;
    LOG[x] = i;
    x ^= x << 1; // multiply by the generator 3
    if (x & 0x100) x ^= 0x11b;
  }
  for (let i = 255; i < 512; i++) EXP[i] = EXP[i - 255]!;
})();
const mul = (a: number, b: number): number => (a === 0 || b === 0 ? 0 : EXP[LOG[a]! + LOG[b]!]!);
const div = (a: number, b: number): number => (a === 0 ? 0 : EXP[LOG[a]! + 255 - LOG[b]!]!);

export interface Share {
  /** Evaluation point 1..255 (the holder's index + 1). */
  x: number;
  y: Uint8Array;
}

/** t-of-n Shamir shares of `secret` (each byte its own random polynomial of degree t − 1). */
export function shamirSplit(secret: Uint8Array, n: number, t: number): Share[] {
  if (!(t >= 1 && t <= n && n <= 255)) throw new InputError('SECAGG', `Shamir: need 1 ≤ t ≤ n ≤ 255 (t ${t}, n ${n})`);
  const coef = randomBytes(secret.length * (t - 1));
  return Array.from({ length: n }, (_, i) => {
    const x = i + 1;
    const y = new Uint8Array(secret.length);
    for (let b = 0; b < secret.length; b++) {
      let acc = 0;
      for (let d = t - 2; d >= 0; d--) acc = mul(acc, x) ^ coef[b * (t - 1) + d]!;
      y[b] = mul(acc, x) ^ secret[b]!;
    }
    return { x, y };
  });
}

/** The secret from at least t shares (Lagrange interpolation at 0). */
export function shamirCombine(shares: Share[]): Uint8Array {
  if (shares.length === 0) throw new InputError('SECAGG', 'Shamir: no shares');
  const len = shares[0]!.y.length;
  const out = new Uint8Array(len);
  for (let b = 0; b < len; b++) {
    let acc = 0;
    for (const si of shares) {
      let l = 1;
      for (const sj of shares) if (sj.x !== si.x) l = mul(l, div(sj.x, sj.x ^ si.x));
      acc ^= mul(si.y[b]!, l);
    }
    out[b] = acc;
  }
  return out;
}

// ---------------------------------------------------------------- masks

/** `n` uint32 words of AES-256-CTR keystream from a 32-byte seed. */
function prg(seed: Uint8Array, n: number): Uint32Array {
  const c = createCipheriv('aes-256-ctr', seed, Buffer.alloc(16));
  const bytes = c.update(Buffer.alloc(4 * n));
  return new Uint32Array(bytes.buffer, bytes.byteOffset, n).slice();
}

function pairSeed(own: KeyObject, other: KeyObject, lo: number, hi: number): Uint8Array {
  const shared = diffieHellman({ privateKey: own, publicKey: other });
  return new Uint8Array(hkdfSync('sha256', shared, Buffer.from(`radml-secagg:${lo}:${hi}`), 'pairwise-mask', 32));
}

const RAW_X25519_PKCS8 = Buffer.from('302e020100300506032b656e04220420', 'hex');

function privateRaw(k: KeyObject): Uint8Array {
  const der = k.export({ type: 'pkcs8', format: 'der' });
  return new Uint8Array(der.subarray(der.length - 32));
}

function privateFromRaw(raw: Uint8Array): KeyObject {
  return createPrivateKey({ key: Buffer.concat([RAW_X25519_PKCS8, Buffer.from(raw)]), format: 'der', type: 'pkcs8' });
}

export interface SecAggOptions {
  /** Shares needed to reconstruct a secret (default ⌊n/2⌋ + 1). */
  threshold?: number;
  /** Fixed-point scale (default 2¹⁶); |Σ n·x| must stay below 2³¹ / scale. */
  scale?: number;
}

export interface SecAggResult {
  /** Σ nᵢxᵢ / Σ nᵢ over the clients that completed. */
  mean: Float64Array;
  survivors: number[];
  /** What the server saw of one client: its masked vector (uniformly random-looking words). */
  maskedExample: Uint32Array;
  /** Bytes each surviving client sent (masked vector + shares), for accounting. */
  bytesPerClient: number;
}

/**
 * Run the protocol for clients holding `inputs[i]` with weight `weights[i]`; clients in `dropAfterSharing`
 * send nothing after the key and share exchange (the dropout case the protocol recovers from).
 *
 * @example const r = secureAggregate([x1, x2, x3], [10, 20, 30], new Set([1]));
 */
export function secureAggregate(inputs: Float32Array[], weights: number[], dropAfterSharing: ReadonlySet<number> = new Set(), o: SecAggOptions = {}): SecAggResult {
  const n = inputs.length;
  const len = inputs[0]?.length ?? 0;
  if (n < 2) throw new InputError('SECAGG', 'secure aggregation needs at least 2 clients');
  const t = o.threshold ?? Math.floor(n / 2) + 1;
  const scale = o.scale ?? 65536;
  const survivors = [...Array(n).keys()].filter((i) => !dropAfterSharing.has(i));
  if (survivors.length < t) throw new InputError('SECAGG', `only ${survivors.length} clients completed; ${t} are needed to unmask`);

  // Round 1: keys.  Round 2: shares of (private key, self-mask seed) to every other client.
  const keys = Array.from({ length: n }, () => generateKeyPairSync('x25519'));
  const pubs = keys.map((k) => createPublicKey(k.privateKey));
  const selfSeeds = Array.from({ length: n }, () => new Uint8Array(randomBytes(32)));
  const keyShares = keys.map((k) => shamirSplit(privateRaw(k.privateKey), n, t));
  const seedShares = selfSeeds.map((s) => shamirSplit(s, n, t));

  // Round 3: masked inputs (value words then the weight word).
  const masked = new Map<number, Uint32Array>();
  for (const i of survivors) {
    const y = new Uint32Array(len + 1);
    for (let j = 0; j < len; j++) y[j] = Math.round(weights[i]! * inputs[i]![j]! * scale) >>> 0;
    y[len] = Math.round(weights[i]! * scale) >>> 0;
    const b = prg(selfSeeds[i]!, len + 1);
    for (let j = 0; j <= len; j++) y[j] = (y[j]! + b[j]!) >>> 0;
    for (let p = 0; p < n; p++) {
      if (p === i) continue;
      const m = prg(pairSeed(keys[i]!.privateKey, pubs[p]!, Math.min(i, p), Math.max(i, p)), len + 1);
      for (let j = 0; j <= len; j++) y[j] = (i < p ? y[j]! + m[j]! : y[j]! - m[j]!) >>> 0;
    }
    masked.set(i, y);
  }

  // Round 4: survivors reveal self-mask shares of survivors and key shares of dropped clients.
  const sum = new Uint32Array(len + 1);
  for (const y of masked.values()) for (let j = 0; j <= len; j++) sum[j] = (sum[j]! + y[j]!) >>> 0;
  const helpers = survivors.slice(0, t);
  for (const i of survivors) {
    const b = prg(shamirCombine(helpers.map((h) => seedShares[i]![h]!)), len + 1);
    for (let j = 0; j <= len; j++) sum[j] = (sum[j]! - b[j]!) >>> 0;
  }
  for (const d of dropAfterSharing) {
    const sk = privateFromRaw(shamirCombine(helpers.map((h) => keyShares[d]![h]!)));
    for (const i of survivors) {
      const m = prg(pairSeed(sk, pubs[i]!, Math.min(i, d), Math.max(i, d)), len + 1);
      // Survivor i added +m when i < d, −m when i > d: undo it.
      for (let j = 0; j <= len; j++) sum[j] = (i < d ? sum[j]! - m[j]! : sum[j]! + m[j]!) >>> 0;
    }
  }
  const signed = (w: number): number => (w >= 2 ** 31 ? w - 2 ** 32 : w);
  const total = signed(sum[len]!) / scale;
  const mean = new Float64Array(len);
  for (let j = 0; j < len; j++) mean[j] = signed(sum[j]!) / scale / total;
  const shareBytes = 2 * (n - 1) * (32 + 1);
  return { mean, survivors, maskedExample: masked.get(survivors[0]!)!, bytesPerClient: 4 * (len + 1) + shareBytes + 32 };
}
