/**
 * store/ — persistence for the deployment service: the job queue with leases, the model registry,
 * predictions, skipped instances, radiologist feedback and the hash-chained audit log. SQLite
 * (better-sqlite3, WAL) is the default; PostgreSQL has the same contract for several machines.
 */
export * from './schema.js';
export * from './store.js';
export * from './audit-chain.js';
export { SqliteStore, type SqliteStoreOptions } from './sqlite.js';
export { PostgresStore, POSTGRES_SCHEMA, isPostgresUrl, redactPostgresUrl, type PgQueryable } from './postgres.js';
export { openStore } from './open.js';
