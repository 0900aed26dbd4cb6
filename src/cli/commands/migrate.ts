/** `threadloom migrate --from <url|dir> --to <url|dir>`: copy every session between stores, verified. */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { StoreOptions } from '../../store.js';
import { print } from '../context.js';

/** A location is a backend URL (postgres://, postgresql://, file://) or a data directory path. */
export function storeOptionsFor(location: string): StoreOptions {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(location) ? { url: location } : { dir: resolve(location) };
}

export function registerMigrate(program: Command): void {
  program
    .command('migrate')
    .description('copy every session from one store to another (file <-> PostgreSQL), verifying each copy; the source is only read')
    .requiredOption('--from <url|dir>', 'source: postgres://… URL, file:// URL or data directory')
    .requiredOption('--to <url|dir>', 'target: postgres://… URL, file:// URL or data directory')
    .option('--schema <name>', 'PostgreSQL schema on either side (default threadloom)')
    .option('--json', 'print the report as JSON')
    .action(async (opts: { from: string; to: string; schema?: string; json?: boolean }) => {
      const { openStore } = await import('../../store.js');
      const { migrateSessions } = await import('../../migrate.js');
      const extra = opts.schema ? { schema: opts.schema } : {};
      const source = openStore({ ...storeOptionsFor(opts.from), ...extra });
      const target = openStore({ ...storeOptionsFor(opts.to), ...extra });
      try {
        const report = await migrateSessions(source, target, {
          onSession: opts.json ? undefined : (id, outcome, detail) => print(`${outcome.padEnd(7)} ${id}${detail ? `  (${detail})` : ''}`),
        });
        if (opts.json) print(JSON.stringify(report, null, 2));
        else print('', `copied ${report.copied.length}, skipped ${report.skipped.length}, failed ${report.failed.length}`);
        if (report.failed.length > 0) process.exitCode = 1;
      } finally {
        await Promise.allSettled([source.close(), target.close()]);
      }
    });
}
