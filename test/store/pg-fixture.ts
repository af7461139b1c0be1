/**
 * A private PostgreSQL server for tests: initdb into a temporary folder, listening on 127.0.0.1 only
 * (plus a Unix socket in that folder), trust authentication for the test user `radml`. As root it
 * runs as the postgres system user, since PostgreSQL refuses to run as root.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from '../serve/fixtures.js';

function pgBin(name: string): string | undefined {
  const versions = existsSync('/usr/lib/postgresql') ? readdirSync('/usr/lib/postgresql').sort().reverse() : [];
  return [...versions.map((v) => `/usr/lib/postgresql/${v}/bin/${name}`), `/usr/local/bin/${name}`, `/usr/bin/${name}`].find((p) => existsSync(p));
}
const INITDB = pgBin('initdb');
const POSTGRES = pgBin('postgres');
const root = process.getuid?.() === 0;
const pgUser = root ? spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }) : undefined;
export const pgSkip = !INITDB || !POSTGRES ? 'needs PostgreSQL server binaries (Debian postgresql)' : root && pgUser?.status !== 0 ? 'running as root needs the postgres system user' : false;

/** Run as the postgres user when we are root (PostgreSQL refuses to run as root). */
function asPg(cmd: string, args: string[]): [string, string[]] {
  return root ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
}

export interface PgServer {
  port: number;
  proc: ChildProcess;
  /** Connection string for the `radml` user's `postgres` database. */
  url: string;
  stop: () => Promise<void>;
}

export async function startPostgres(dir: string): Promise<PgServer> {
  mkdirSync(join(dir, 'sock'), { recursive: true });
  if (root) {
    const uid = Number(pgUser!.stdout.trim());
    const gid = Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim());
    chownSync(dir, uid, gid);
    chownSync(join(dir, 'sock'), uid, gid);
  }
  const [c1, a1] = asPg(INITDB!, ['-D', join(dir, 'data'), '-U', 'radml', '--auth=trust', '--no-sync', '-E', 'UTF8']);
  const init = spawnSync(c1, a1, { encoding: 'utf8' });
  if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr}`);
  const port = await freePort();
  const [c2, a2] = asPg(POSTGRES!, ['-D', join(dir, 'data'), '-p', String(port), '-k', join(dir, 'sock'), '-h', '127.0.0.1', '-F', '-c', 'max_connections=20']);
  const proc = spawn(c2, a2, { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => { err = (err + d.toString()).slice(-3000); });
  const t0 = Date.now();
  for (;;) {
    try {
      const c = new pg.Client({ host: '127.0.0.1', port, user: 'radml', database: 'postgres' });
      await c.connect();
      await c.query('SELECT 1');
      await c.end();
      break;
    } catch {
      if (proc.exitCode !== null || Date.now() - t0 > 20_000) throw new Error(`postgres did not start: ${err}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    port, proc, url: `postgres://radml@127.0.0.1:${port}/postgres`,
    stop: async () => {
      // Signal the postmaster itself (runuser does not pass signals on): SIGINT = fast shutdown.
      const pidFile = join(dir, 'data', 'postmaster.pid');
      const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').split('\n')[0]) : NaN;
      const exited = new Promise((r) => proc.once('exit', r));
      if (Number.isInteger(pid) && pid > 0) process.kill(pid, 'SIGINT');
      else proc.kill('SIGINT');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000).unref())]);
      if (proc.exitCode === null && Number.isInteger(pid) && pid > 0) process.kill(pid, 'SIGKILL');
    },
  };
}

