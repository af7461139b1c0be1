/**
 * A Flower Fleet API client over HTTP (flwr 1.40–1.42; ../shared/FLOWER-FLEET.md): protobuf bodies
 * POSTed to `/v1/fleet/<rpc>`, every call signed with the node's EC P-384 key (ECDSA-SHA256 over
 * the ISO-8601 timestamp). The key is created once per site and kept (PEM, mode 0600), so a
 * restarted site presents the same identity.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { writeFileAtomic } from '../util/atomic.js';
import { RadmlError } from '../util/errors.js';
import { decode, encode } from './proto.js';

/** An HTTP error from the SuperLink, with its Flower error code when the body carried one. */
export class FleetError extends RadmlError {
  constructor(readonly rpc: string, readonly status: number, readonly flowerCode: number | null, readonly detail: string) {
    super('FLEET_HTTP', `SuperLink ${rpc}: HTTP ${status}${flowerCode !== null ? ` (code ${flowerCode})` : ''}: ${detail}`);
  }
}

/** The SuperLink could not be reached at all (refused, reset, timed out). */
export class FleetUnreachableError extends RadmlError {
  constructor(readonly rpc: string, cause: unknown) {
    super('FLEET_UNREACHABLE', `SuperLink ${rpc}: unreachable (${(cause as Error)?.message ?? String(cause)}); check --superlink and that the SuperLink is running`);
  }
}

/**
 * Load the node key from `file`, creating an EC P-384 key there on first use (or, with `renew`,
 * replacing it: a node that left cleanly is unregistered and its key cannot join again).
 *
 * @example const key = loadOrCreateNodeKey('site-a/.radml-flower/node-key.pem');
 */
export function loadOrCreateNodeKey(file: string, opts: { renew?: boolean } = {}): KeyObject {
  if (existsSync(file) && !opts.renew) return createPrivateKey(readFileSync(file));
  mkdirSync(dirname(file), { recursive: true });
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
  writeFileAtomic(file, privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
  chmodSync(file, 0o600);
  return privateKey;
}

/** `2026-12-01T07:17:40.572+00:00` (the form Python's `datetime.isoformat()` gives for UTC). */
export function fleetTimestamp(now = new Date()): string {
  return now.toISOString().replace('Z', '+00:00');
}

export interface FleetClientOptions {
  /** `http://host:port` (a bare `host:port` is taken as http). */
  superlink: string;
  key: KeyObject;
  /** Per-call timeout in ms. */
  timeoutMs?: number;
  /** Counts request and response body bytes (for per-round accounting). */
  onBytes?: (sent: number, received: number) => void;
}

export class FleetClient {
  readonly base: string;
  /** PEM SubjectPublicKeyInfo bytes of the node key, as flwr sends them. */
  readonly publicKeyPem: Uint8Array;
  private readonly headerKey: string;
  constructor(private readonly opts: FleetClientOptions) {
    const s = opts.superlink.replace(/\/+$/, '');
    this.base = /^https?:\/\//.test(s) ? s : `http://${s}`;
    this.publicKeyPem = new TextEncoder().encode(createPublicKey(opts.key).export({ type: 'spki', format: 'pem' }) as string);
    this.headerKey = Buffer.from(this.publicKeyPem).toString('base64');
  }

  private headers(): Record<string, string> {
    const ts = fleetTimestamp();
    const sig = sign('sha256', Buffer.from(ts, 'ascii'), { key: this.opts.key, dsaEncoding: 'der' });
    return {
      'content-type': 'application/protobuf',
      accept: 'application/protobuf',
      'flwr-public-key': this.headerKey,
      'flwr-timestamp': ts,
      'flwr-signature': sig.toString('base64'),
    };
  }

  /**
   * One Fleet RPC: `rpc` is the URL path part (e.g. `pull-messages`), request/response the
   * flwr.proto message names.
   */
  async call<T = Record<string, unknown>>(rpc: string, requestType: string, request: Record<string, unknown>, responseType: string): Promise<T> {
    const body = encode(requestType, request);
    let res: Response;
    try {
      res = await fetch(`${this.base}/v1/fleet/${rpc}`, {
        method: 'POST', headers: this.headers(), body, signal: AbortSignal.timeout(this.opts.timeoutMs ?? 60_000),
      });
    } catch (e) {
      throw new FleetUnreachableError(rpc, (e as { cause?: unknown }).cause ?? e);
    }
    const buf = new Uint8Array(await res.arrayBuffer());
    this.opts.onBytes?.(body.length, buf.length);
    if (res.status !== 200) {
      let code: number | null = null;
      let detail = new TextDecoder().decode(buf).slice(0, 300);
      try {
        const j = JSON.parse(detail) as { code?: number; detail?: string };
        code = typeof j.code === 'number' ? j.code : null;
        detail = j.detail ?? detail;
      } catch {
        // Not JSON: keep the text.
      }
      throw new FleetError(rpc, res.status, code, detail);
    }
    return decode<T>(responseType, buf);
  }
}
