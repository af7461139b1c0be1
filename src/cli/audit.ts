/**
 * `radml audit verify --store <db>`: check the deployment service's hash-chained audit log.
 */
import { existsSync } from 'node:fs';
import { SqliteStore } from '../store/sqlite.js';
import { verifyAuditChain } from '../store/audit-chain.js';
import { InputError } from '../util/errors.js';
import { type Command, requireStr } from './lib/command.js';

export const command: Command = {
  name: 'audit',
  summary: 'Verify the deployment service audit log (hash chain)',
  usage: 'verify --store <radml.db>',
  help: `Recomputes every entry's SHA-256 over its content and the previous entry's hash, checks that
sequence numbers have no gaps and that the chain ends at the recorded head. An edited, deleted or
reordered row is reported with its sequence number; the exit code is 0 when the chain is intact and
3 when it is not. The head hash printed at the end can be recorded elsewhere (a ticket, a log
shipper) to also detect a rewrite of the whole tail.

Example:
  radml audit verify --store radml-serve/radml.db`,
  options: {
    store: { type: 'string', arg: '<db>', description: 'the service SQLite store (config "store")' },
  },
  async run(args, io) {
    const sub = args.positionals[0];
    if (sub !== 'verify') throw new InputError('CLI_ARGS', `radml audit: expected the subcommand "verify", got ${sub ? `"${sub}"` : 'nothing'}. See \`radml audit --help\`.`);
    const path = requireStr(args, 'store', 'audit');
    if (!existsSync(path)) throw new InputError('FILE_UNREADABLE', `${path}: no such store`, { file: path });
    const store = SqliteStore.open(path, { readonly: true });
    try {
      const v = verifyAuditChain(await store.listAudit(), await store.auditHead());
      for (const p of v.problems) io.out(`entry ${p.seq}: ${p.reason}`);
      io.out(`${v.ok ? 'OK' : 'TAMPERED'}: ${v.entries} entries, head ${v.headSeq} ${v.headHash}`);
      return v.ok ? 0 : 3;
    } finally {
      await store.close();
    }
  },
};
