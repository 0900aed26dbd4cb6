/** What every command shares: the global options, opening and always closing the store, output. */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { SessionStore, StoreOptions } from '../store.js';

/**
 * The store (and zod behind it) is loaded on first use, not at startup: `--help`, `--version` and
 * usage errors then answer without paying for it.
 */
const loadStore = () => import('../store.js');

export interface GlobalOptions {
  dir?: string;
  url?: string;
  durability?: 'full' | 'process';
}

export function globalOptions(command: Command): GlobalOptions {
  return command.optsWithGlobals() as GlobalOptions;
}

/** The directory the store will use, absolute, for messages that tell the user where files are. */
export async function dataDir(command: Command): Promise<string> {
  return resolve(globalOptions(command).dir ?? (await loadStore()).defaultDataDir());
}

/**
 * Runs `fn` against a store opened with the global options and closes it whatever happens, so a
 * failing command never leaves a lock or file handle behind. `dir` is passed only when given, which
 * keeps openStore's own default ($THREADLOOM_DIR, else ~/.threadloom) the single source of truth.
 */
export async function withStore<T>(command: Command, fn: (store: SessionStore) => Promise<T>, extra: StoreOptions = {}): Promise<T> {
  const g = globalOptions(command);
  const { openStore } = await loadStore();
  if (g.url !== undefined && g.dir !== undefined) {
    const { InvalidInputError } = await import('../core/errors.js');
    throw new InvalidInputError('--url', 'give --url or --dir, not both');
  }
  const url = g.url ?? (g.dir === undefined ? process.env.THREADLOOM_URL || undefined : undefined);
  const store = openStore({
    ...(url !== undefined ? { url } : g.dir !== undefined ? { dir: resolve(g.dir) } : {}),
    ...(g.durability !== undefined ? { durability: g.durability } : {}),
    ...extra,
  });
  let failed = false;
  try {
    return await fn(store);
  } catch (err) {
    failed = true;
    throw err;
  } finally {
    try {
      await store.close();
    } catch (err) {
      // The command's own error is the one worth reporting.
      if (!failed) throw err;
    }
  }
}

export function print(...lines: string[]): void {
  process.stdout.write(lines.map((l) => `${l}\n`).join(''));
}

/** Progress and hints that must not end up in a piped document (export to stdout, ids for scripts). */
export function note(...lines: string[]): void {
  process.stderr.write(lines.map((l) => `${l}\n`).join(''));
}
