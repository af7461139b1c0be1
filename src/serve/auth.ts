/**
 * API tokens with roles. Tokens are random 256-bit secrets shown once; only their SHA-256 is kept
 * (in the tokens file), so a leaked file does not leak working tokens. A plain hash is enough here
 * because the secrets are random, not passwords.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync } from 'node:fs';
import { z } from 'zod';
import { writeJsonAtomic } from '../util/atomic.js';
import { readJsonWithSchema } from '../util/json.js';
import { InputError } from '../util/errors.js';
import { type Role, roleSchema } from '../store/schema.js';

export const tokenRecordSchema = z.object({
  name: z.string().min(1).max(100),
  role: roleSchema,
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  createdAt: z.string().optional(),
});
export type TokenRecord = z.infer<typeof tokenRecordSchema>;
export const tokensFileSchema = z.object({ tokens: z.array(tokenRecordSchema) });

export interface Principal {
  name: string;
  role: Role;
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** A new random token: `radml_` + 43 base64url characters. */
export function generateToken(): string {
  return 'radml_' + randomBytes(32).toString('base64url');
}

export function readTokensFile(file: string): TokenRecord[] {
  if (!existsSync(file)) return [];
  return readJsonWithSchema(file, tokensFileSchema, 'TOKENS_INVALID').tokens;
}

/**
 * Create a token for `name` with `role`, append its hash to the tokens file and return the token
 * (the only time it is visible).
 * @example const t = addToken('serve/tokens.json', 'pacs-bridge', 'service');
 */
export function addToken(file: string, name: string, role: Role): string {
  const tokens = readTokensFile(file);
  if (tokens.some((t) => t.name === name)) throw new InputError('TOKEN_EXISTS', `${file}: a token named "${name}" already exists`, { file });
  const token = generateToken();
  tokens.push({ name, role, sha256: hashToken(token), createdAt: new Date().toISOString() });
  writeJsonAtomic(file, { tokens });
  chmodSync(file, 0o600); // who holds which role is nobody else's business
  return token;
}

/** Looks tokens up by hash in constant time per candidate. */
export class TokenVerifier {
  private readonly records: { role: Role; name: string; hash: Buffer }[];
  constructor(records: readonly TokenRecord[]) {
    this.records = records.map((r) => ({ role: r.role, name: r.name, hash: Buffer.from(r.sha256, 'hex') }));
  }

  /** The principal of a bearer token, or undefined. */
  verify(token: string | undefined): Principal | undefined {
    if (!token) return undefined;
    const h = Buffer.from(hashToken(token), 'hex');
    let found: Principal | undefined;
    for (const r of this.records) if (timingSafeEqual(r.hash, h)) found = { name: r.name, role: r.role };
    return found;
  }

  get size(): number {
    return this.records.length;
  }
}

/** The token from `Authorization: Bearer <token>`. */
export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m?.[1];
}
