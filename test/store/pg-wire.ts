/**
 * Test-only: a minimal PostgreSQL wire-protocol (v3) client shaped like `pg.Pool` (PgQueryable),
 * so PostgresStore runs against a real server in tests while the `pg` package is not a dependency.
 * Trust authentication only, text format, extended query protocol with untyped parameters.
 */
import { connect, type Socket } from 'node:net';
import type { PgClient, PgQueryable, PgResult } from '../../src/store/postgres.js';

const INT_TYPES = new Set([20, 21, 23, 26]);
const FLOAT_TYPES = new Set([700, 701, 1700]);

class Connection {
  private buf = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  private queue: Promise<unknown> = Promise.resolve();
  private constructor(private readonly sock: Socket) {
    sock.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      for (const w of this.waiters.splice(0)) w();
    });
  }

  static async open(host: string, port: number, user: string, database: string): Promise<Connection> {
    const sock = connect({ host, port });
    await new Promise<void>((res, rej) => { sock.once('connect', res); sock.once('error', rej); });
    const c = new Connection(sock);
    const params = Buffer.from(`user\0${user}\0database\0${database}\0\0`);
    const head = Buffer.alloc(8);
    head.writeInt32BE(8 + params.length, 0);
    head.writeInt32BE(196608, 4);
    sock.write(Buffer.concat([head, params]));
    for (;;) {
      const m = await c.message();
      if (m.type === 'E') throw new Error(`postgres: ${errorText(m.body)}`);
      if (m.type === 'R' && m.body.readInt32BE(0) !== 0) throw new Error('postgres: only trust authentication is supported by the test client');
      if (m.type === 'Z') return c;
    }
  }

  private async message(): Promise<{ type: string; body: Buffer }> {
    for (;;) {
      if (this.buf.length >= 5) {
        const len = this.buf.readInt32BE(1);
        if (this.buf.length >= 1 + len) {
          const type = String.fromCharCode(this.buf[0]!);
          const body = this.buf.subarray(5, 1 + len);
          this.buf = this.buf.subarray(1 + len);
          return { type, body };
        }
      }
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }

  private send(type: string, body: Buffer): void {
    const h = Buffer.alloc(5);
    h.write(type, 0, 'latin1');
    h.writeInt32BE(body.length + 4, 1);
    this.sock.write(Buffer.concat([h, body]));
  }

  query(text: string, values: unknown[] = []): Promise<PgResult> {
    const run = this.queue.then(() => this.run(text, values));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async run(text: string, values: unknown[]): Promise<PgResult> {
    const cstr = (s: string) => Buffer.from(s + '\0', 'utf8');
    const i16 = (n: number) => { const b = Buffer.alloc(2); b.writeInt16BE(n); return b; };
    const i32 = (n: number) => { const b = Buffer.alloc(4); b.writeInt32BE(n); return b; };
    if (values.length === 0 && text.includes(';')) {
      this.send('Q', cstr(text)); // several statements (the schema): simple query protocol
    } else {
      this.send('P', Buffer.concat([cstr(''), cstr(text), i16(0)]));
      const params = values.map((v) => {
        if (v === null || v === undefined) return i32(-1);
        const s = Buffer.from(typeof v === 'string' ? v : typeof v === 'boolean' ? (v ? 'true' : 'false') : String(v), 'utf8');
        return Buffer.concat([i32(s.length), s]);
      });
      this.send('B', Buffer.concat([cstr(''), cstr(''), i16(0), i16(values.length), ...params, i16(0)]));
      this.send('D', Buffer.concat([Buffer.from('P'), cstr('')]));
      this.send('E', Buffer.concat([cstr(''), i32(0)]));
      this.send('S', Buffer.alloc(0));
    }
    let fields: { name: string; type: number }[] = [];
    const rows: Record<string, unknown>[] = [];
    let rowCount: number | null = null;
    let error: string | undefined;
    for (;;) {
      const m = await this.message();
      if (m.type === 'T') {
        fields = [];
        let off = 2;
        for (let i = 0; i < m.body.readInt16BE(0); i++) {
          const end = m.body.indexOf(0, off);
          const name = m.body.subarray(off, end).toString('utf8');
          off = end + 1;
          fields.push({ name, type: m.body.readInt32BE(off + 6) });
          off += 18;
        }
      } else if (m.type === 'D') {
        const row: Record<string, unknown> = {};
        let off = 2;
        for (let i = 0; i < m.body.readInt16BE(0); i++) {
          const len = m.body.readInt32BE(off);
          off += 4;
          const f = fields[i]!;
          if (len < 0) row[f.name] = null;
          else {
            const s = m.body.subarray(off, off + len).toString('utf8');
            off += len;
            row[f.name] = f.type === 16 ? s === 't' : f.type === 3802 || f.type === 114 ? JSON.parse(s) : INT_TYPES.has(f.type) || FLOAT_TYPES.has(f.type) ? Number(s) : s;
          }
        }
        rows.push(row);
      } else if (m.type === 'C') {
        const tag = m.body.subarray(0, m.body.length - 1).toString();
        const n = Number(tag.split(' ').pop());
        rowCount = Number.isFinite(n) ? n : null;
      } else if (m.type === 'E') error = errorText(m.body);
      else if (m.type === 'Z') break;
    }
    if (error) throw new Error(`postgres: ${error}`);
    return { rows, rowCount };
  }

  end(): void {
    this.send('X', Buffer.alloc(0));
    this.sock.end();
  }
}

function errorText(body: Buffer): string {
  const parts: Record<string, string> = {};
  let off = 0;
  while (off < body.length && body[off] !== 0) {
    const code = String.fromCharCode(body[off]!);
    const end = body.indexOf(0, off + 1);
    parts[code] = body.subarray(off + 1, end).toString('utf8');
    off = end + 1;
  }
  return `${parts.M ?? 'error'} (${parts.C ?? ''})`;
}

/** A small pool: one connection per concurrent client, like pg.Pool. */
export class WirePool implements PgQueryable {
  private idle: Connection[] = [];
  private all: Connection[] = [];
  constructor(private readonly opts: { host: string; port: number; user: string; database: string }) {}

  async connect(): Promise<PgClient> {
    const c = this.idle.pop() ?? (await Connection.open(this.opts.host, this.opts.port, this.opts.user, this.opts.database));
    if (!this.all.includes(c)) this.all.push(c);
    return { query: (t, v) => c.query(t, v), release: () => { this.idle.push(c); } };
  }

  async query(text: string, values?: unknown[]): Promise<PgResult> {
    const c = await this.connect();
    try {
      return await c.query(text, values);
    } finally {
      c.release();
    }
  }

  async end(): Promise<void> {
    for (const c of this.all) c.end();
    this.all = [];
    this.idle = [];
  }
}
