export { openStore, defaultDataDir, SessionStore, type StoreOptions } from './store.js';
export * from './core/errors.js';
export type * from './core/model.js';
export { MESSAGE_ROLES } from './core/model.js';
export type { EventBody, EventType, MessageRecord, SessionHeader, StoredEvent } from './core/events.js';
export { EXPORT_FORMAT, EXPORT_VERSION, type SessionExport } from './core/exchange.js';
export type {
  AppendMode,
  AppendPlan,
  CorruptionReport,
  DriverCapabilities,
  ListCursor,
  ListQuery,
  ListResult,
  LogTransaction,
  SessionDriver,
  SessionSummary,
} from './drivers/driver.js';
export { createFileDriver, type FileDriverOptions } from './drivers/file.js';
export { createPostgresDriver, type PostgresDriverOptions, type PgPoolLike } from './drivers/postgres.js';
export { migrateSessions, type MigrationReport, type MigrateOptions } from './migrate.js';
