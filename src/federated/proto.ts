/**
 * The Flower protobuf messages radml speaks (flwr 1.42's Fleet API), loaded with protobufjs from the
 * .proto files vendored under src/federated/proto/ (regenerated from the pinned wheel's descriptors;
 * test/federated/proto.test.ts keeps them identical to it).
 *
 * uint64 ids (node, run, task) are bigint on radml's side and Long inside protobufjs: flwr's ids are
 * random 64-bit values, far above 2^53, so a JS number would silently corrupt them.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

const FILES = ['error', 'fab', 'heartbeat', 'message', 'node', 'recorddict', 'run', 'transport', 'fleet'];

/** The vendored proto folder: next to this file when run from src/, under the repo's src/ when compiled to dist/. */
function protoRoot(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const c of [join(here, 'proto'), resolve(here, '..', '..', '..', 'src', 'federated', 'proto')]) {
    if (existsSync(join(c, 'flwr', 'proto', 'fleet.proto'))) return c;
  }
  throw new Error(`the vendored Flower .proto files are missing (looked next to ${here})`);
}

interface LongLike { toString(): string }
// protobufjs bundles `long` (its only dependency); reached through protobuf.util so radml needs no direct dependency.
const LongCtor = protobuf.util.Long as unknown as { fromString(s: string, unsigned: boolean): LongLike };

let cached: protobuf.Root | undefined;

/** The protobufjs root holding every flwr.proto message radml uses. */
export function flwrRoot(): protobuf.Root {
  if (cached) return cached;
  const base = protoRoot();
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => (target.startsWith('flwr/') ? join(base, target) : target);
  root.loadSync(FILES.map((f) => `flwr/proto/${f}.proto`), { keepCase: true });
  root.resolveAll();
  cached = root;
  return root;
}

/** A message type by its name inside package flwr.proto, e.g. `PullMessagesRequest`. */
export function msgType(name: string): protobuf.Type {
  return flwrRoot().lookupType(`flwr.proto.${name}`);
}

/** Encode a plain object (fields already free of proto3 defaults where byte-identity matters). */
export function encode(name: string, value: Record<string, unknown>): Uint8Array {
  const t = msgType(name);
  const err = t.verify(value);
  if (err) throw new Error(`flwr.proto.${name}: ${err}`);
  return t.encode(t.fromObject(value)).finish();
}

/** Decode to a plain object: 64-bit integers as decimal strings (turn them into bigint with `big`), bytes as Uint8Array. */
export function decode<T = Record<string, unknown>>(name: string, bytes: Uint8Array): T {
  const t = msgType(name);
  return t.toObject(t.decode(bytes), { longs: String, bytes: Uint8Array as unknown as typeof Array, defaults: true, oneofs: true, arrays: true, objects: true }) as T;
}

/** A uint64 for protobufjs from a bigint. */
export function u64(v: bigint): LongLike {
  return LongCtor.fromString(v.toString(), true);
}

/** A sint64 for protobufjs from a bigint. */
export function s64(v: bigint): LongLike {
  return LongCtor.fromString(v.toString(), false);
}

/** bigint from a decoded 64-bit value (decimal string, number or Long). */
export function big(v: unknown): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'string' || typeof v === 'number') return BigInt(v);
  if (v && typeof v === 'object' && 'toString' in v) return BigInt(String(v));
  return 0n;
}
