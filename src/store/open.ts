/** Opening the store a serve config names: a SQLite file path, or a `postgres://` connection string. */
import { isPostgresUrl, PostgresStore } from './postgres.js';
import { SqliteStore } from './sqlite.js';
import type { Store } from './store.js';

/**
 * @example const store = await openStore('postgres://radml@db/radml'); // or openStore('radml-serve/radml.db')
 */
export async function openStore(location: string, opts: { synchronous?: 'NORMAL' | 'FULL' } = {}): Promise<Store> {
  if (isPostgresUrl(location)) return PostgresStore.connect(location);
  return SqliteStore.open(location, opts.synchronous ? { synchronous: opts.synchronous } : {});
}
