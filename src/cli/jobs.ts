/**
 * `radml jobs list|requeue`: look at the service's job queue and put failed or refused jobs back,
 * straight against the store the serve config names (SQLite file or PostgreSQL), so it works while
 * the service runs (a running worker picks requeued jobs up within its idle interval) or is down.
 */
import { existsSync } from 'node:fs';
import { userInfo } from 'node:os';
import { readServeConfig } from '../serve/config.js';
import { makePseudonymiser } from '../serve/pseudonym.js';
import { openAuditKey } from '../store/audit-chain.js';
import { openStore } from '../store/open.js';
import { isPostgresUrl } from '../store/postgres.js';
import { JOB_STATES, type Job } from '../store/schema.js';
import type { Store } from '../store/store.js';
import { InputError } from '../util/errors.js';
import { type Command, bool, str } from './lib/command.js';

const LIST_STATES = [...JOB_STATES, 'refused'] as const;

function storeLocation(args: Parameters<Command['run']>[0]): { location: string; auditKeyFile: string | undefined } {
  const store = str(args, 'store');
  const config = str(args, 'config');
  if (store && config) throw new InputError('CLI_ARGS', 'radml jobs: give --config or --store, not both');
  const cfg = config ? readServeConfig(config) : undefined;
  const location = store ?? cfg?.store;
  if (!location) throw new InputError('CLI_ARGS', 'radml jobs: say which store with --config <serve.json> or --store <radml.db | postgres://…>');
  if (!isPostgresUrl(location) && !existsSync(location)) throw new InputError('FILE_UNREADABLE', `${location}: no such store (has the service run yet?)`, { file: location });
  return { location, auditKeyFile: str(args, 'audit-key') ?? cfg?.auditKeyFile };
}

function row(j: Job, study: (uid: string) => string): string {
  const age = Math.round((Date.now() - j.updatedAt) / 1000);
  return [String(j.id).padStart(6), j.state.padEnd(6), `${j.attempts}/${j.maxAttempts}`.padEnd(5), `${j.modelName}@${j.modelVersion}`.padEnd(16), study(j.studyUid).padEnd(16), `${age}s ago`.padEnd(9), (j.lastError ?? '').slice(0, 100)].join('  ');
}

async function refusedJobs(store: Store, limit: number): Promise<Job[]> {
  const out: Job[] = [];
  for (const j of await store.listJobs({ state: 'done', limit: 100_000 })) {
    if ((await store.listSkipped({ studyUid: j.studyUid, modelName: j.modelName, modelVersion: j.modelVersion })).length > 0) out.push(j);
    if (out.length >= limit) break;
  }
  return out;
}

export const command: Command = {
  name: 'jobs',
  summary: 'List the service job queue; requeue failed or refused jobs',
  usage: 'list|requeue --config <serve.json> [--state <state>] [--id <n,…>]',
  help: `Works on the store the serve config names ("store": a SQLite file or a postgres:// URL), or
on the one given with --store, whether or not the service is running.

  radml jobs list --config serve.json                      jobs, oldest first (--limit, default 1000)
  radml jobs list --config serve.json --state failed       failed jobs with their last error
  radml jobs requeue --config serve.json --id 17,18        queue these (failed or done) jobs again
  radml jobs requeue --config serve.json --state failed    queue every failed job again
  radml jobs requeue --config serve.json --state refused   look again at every refused instance

A requeued job starts with its attempts reset. Instances it refused are looked at again (after a
change of selection or OOD profile); instances it scored are never scored twice. Study UIDs are
shown as the service's log pseudonyms unless --show-uids is given. Each requeue is written to the
audit log.`,
  options: {
    config: { type: 'string', arg: '<serve.json>', description: 'service configuration (its "store" is used)' },
    store: { type: 'string', arg: '<db|url>', description: 'the store itself: SQLite file or postgres:// URL' },
    state: { type: 'string', arg: '<state>', description: `list: ${LIST_STATES.join(', ')}; requeue: failed or refused` },
    id: { type: 'string', arg: '<n,…>', description: 'requeue: job ids, comma-separated' },
    limit: { type: 'string', arg: 'N', description: 'most jobs listed or requeued', default: '1000' },
    'audit-key': { type: 'string', arg: '<file>', description: 'requeue with --store: the audit key file (config "auditKeyFile")' },
    'show-uids': { type: 'boolean', description: 'list: show Study Instance UIDs instead of pseudonyms' },
    json: { type: 'boolean', description: 'list: JSON lines instead of a table' },
  },
  async run(args, io) {
    const sub = args.positionals[0];
    if (sub !== 'list' && sub !== 'requeue') throw new InputError('CLI_ARGS', `radml jobs: expected "list" or "requeue", got ${sub ? `"${sub}"` : 'nothing'}. See \`radml jobs --help\`.`);
    const limit = Number(str(args, 'limit') ?? '1000');
    if (!Number.isInteger(limit) || limit < 1) throw new InputError('CLI_ARGS', `--limit must be a positive whole number, got "${str(args, 'limit')}"`);
    const state = str(args, 'state');
    const where = storeLocation(args);
    const store = await openStore(where.location);
    try {
      const key = await store.getState('log.pseudonym.key');
      const study = bool(args, 'show-uids') || !key ? (u: string) => u : makePseudonymiser(key);
      if (sub === 'list') {
        if (state !== undefined && !(LIST_STATES as readonly string[]).includes(state)) throw new InputError('CLI_ARGS', `--state must be one of ${LIST_STATES.join(', ')}, got "${state}"`);
        const jobs = state === 'refused' ? await refusedJobs(store, limit) : await store.listJobs({ ...(state ? { state: state as Job['state'] } : {}), limit });
        if (bool(args, 'json')) for (const j of jobs) io.out(JSON.stringify({ ...j, studyUid: study(j.studyUid) }));
        else {
          io.out(['    id', 'state ', 'tries', 'model'.padEnd(16), 'study'.padEnd(16), 'updated'.padEnd(9), 'last error'].join('  '));
          for (const j of jobs) io.out(row(j, study));
        }
        const c = await store.jobCounts();
        io.err(`${jobs.length} shown; in the store: ${Object.entries(c).map(([k, v]) => `${v} ${k}`).join(', ')}`);
        return 0;
      }
      const idText = str(args, 'id');
      if ((idText === undefined) === (state === undefined)) throw new InputError('CLI_ARGS', 'radml jobs requeue: give either --id <n,…> or --state failed|refused');
      let ids: number[] | undefined;
      if (idText !== undefined) {
        ids = idText.split(',').map((t) => Number(t.trim()));
        const bad = idText.split(',').find((t) => !/^\d+$/.test(t.trim()));
        if (bad !== undefined) throw new InputError('CLI_ARGS', `--id must be job numbers separated by commas, got "${bad}"`);
      } else if (state !== 'failed' && state !== 'refused') throw new InputError('CLI_ARGS', `radml jobs requeue: --state must be failed or refused, got "${state}"`);
      // The requeue is audited, and the audit chain is keyed: without its key the entry would break it.
      if (!where.auditKeyFile) throw new InputError('CLI_ARGS', 'radml jobs requeue writes to the audit log: give --config (its auditKeyFile) or --audit-key <file> with --store');
      store.setAuditKey(await openAuditKey(where.auditKeyFile, await store.auditHead(), (seq) => store.listAuditPage(seq - 1, 1)));
      const r = await store.requeueJobs(ids ? { ids } : { state: state as 'failed' | 'refused', limit });
      if (r.requeued.length > 0) {
        await store.appendAudit({ actor: `cli:${userInfo().username}`, action: 'job.requeue', subject: ids ? `ids` : `state:${state}`, details: { jobs: r.requeued.map((j) => j.id) } });
      }
      for (const j of r.requeued) io.out(`requeued job ${j.id} (${j.modelName}@${j.modelVersion}, study ${study(j.studyUid)})`);
      for (const j of r.unchanged) io.err(`job ${j.id} is ${j.state === 'leased' ? 'running' : 'already queued'}; left as it is`);
      const missing = (ids ?? []).filter((id) => !r.requeued.some((j) => j.id === id) && !r.unchanged.some((j) => j.id === id));
      for (const id of missing) io.err(`no job ${id}`);
      io.err(`${r.requeued.length} job(s) requeued`);
      return missing.length > 0 ? 2 : 0;
    } finally {
      await store.close();
    }
  },
};
