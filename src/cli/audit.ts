/**
 * `radml audit verify`: check the deployment service's keyed, hash-chained audit log.
 */
import { existsSync } from 'node:fs';
import { SqliteStore } from '../store/sqlite.js';
import { isPostgresUrl } from '../store/postgres.js';
import { openStore } from '../store/open.js';
import { readAuditKey, verifyAuditPaged, type AuditKey } from '../store/audit-chain.js';
import type { Store } from '../store/store.js';
import { readServeConfig } from '../serve/config.js';
import { InputError } from '../util/errors.js';
import { type Command, str } from './lib/command.js';

export const command: Command = {
  name: 'audit',
  summary: 'Verify the deployment service audit log (HMAC-keyed hash chain)',
  usage: 'verify (--config <serve.json> | --store <radml.db|postgres://…> [--key <audit.key>])',
  help: `Recomputes every entry's HMAC-SHA256 (under the service's audit key, a file kept outside the
database) over its content and the previous entry's hash, checks that sequence numbers have no gaps
and that the chain ends at the recorded head. An edited, deleted, reordered or forged row is
reported with its sequence number; the exit code is 0 when the chain is intact and 3 when it is
not. Entries written before the key existed are plain SHA-256 and are sealed by the first keyed one.

Someone who can write the database but cannot read the key file cannot rewrite the log without
this command noticing. Deleting the newest entries together with the head row is only caught
against a head recorded elsewhere: keep the printed head line (a ticket, a log shipper).
Without a key only the unkeyed entries can be checked, and keyed ones are reported.

Examples:
  radml audit verify --config serve.json
  radml audit verify --store radml-serve/radml.db --key radml-serve/audit.key`,
  options: {
    config: { type: 'string', arg: '<serve.json>', description: 'the service config (its store and auditKeyFile)' },
    store: { type: 'string', arg: '<db>', description: 'the service store: SQLite file or postgres:// URL (config "store")' },
    key: { type: 'string', arg: '<file>', description: 'the audit key file (config "auditKeyFile")' },
  },
  async run(args, io) {
    const sub = args.positionals[0];
    if (sub !== 'verify') throw new InputError('CLI_ARGS', `radml audit: expected the subcommand "verify", got ${sub ? `"${sub}"` : 'nothing'}. See \`radml audit --help\`.`);
    const configFile = str(args, 'config');
    const cfg = configFile ? readServeConfig(configFile) : undefined;
    const location = str(args, 'store') ?? cfg?.store;
    if (!location) throw new InputError('CLI_ARGS', 'radml audit verify: pass --config <serve.json> or --store <db>');
    const keyFile = str(args, 'key') ?? cfg?.auditKeyFile;
    let key: AuditKey | undefined;
    if (keyFile) {
      if (!existsSync(keyFile)) throw new InputError('FILE_UNREADABLE', `${keyFile}: no such audit key file`, { file: keyFile });
      key = readAuditKey(keyFile);
    } else io.err('no --key given: keyed entries cannot be checked and will be reported');
    let store: Store;
    if (isPostgresUrl(location)) store = await openStore(location);
    else {
      if (!existsSync(location)) throw new InputError('FILE_UNREADABLE', `${location}: no such store`, { file: location });
      store = SqliteStore.open(location, { readonly: true });
    }
    try {
      const v = await verifyAuditPaged(store, key);
      for (const p of v.problems) io.out(`entry ${p.seq}: ${p.reason}`);
      io.out(`${v.ok ? 'OK' : 'TAMPERED'}: ${v.entries} entries (${v.keyed} keyed, ${v.unkeyed} before the key), head ${v.headSeq} ${v.headHash}`);
      return v.ok ? 0 : 3;
    } finally {
      await store.close();
    }
  },
};
