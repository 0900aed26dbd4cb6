/** export and import: moving sessions between stores as JSON documents. */
import { randomBytes } from 'node:crypto';
import { readdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { CliError, EXIT, threadloomCode, UsageError } from '../errors.js';
import { print, withStore } from '../context.js';
import { json, plural, table } from '../format.js';
import type { SessionStore } from '../../store.js';

export function registerTransfer(program: Command): void {
  program
    .command('export')
    .description('export a session as a JSON document (history, snapshots, revert state; never the share token)')
    .argument('<id>', 'session id')
    .option('-o, --output <file>', 'write to this file (created with mode 0600) instead of stdout')
    .action(async (id: string, opts: { output?: string }, cmd: Command) => {
      const doc = await withStore(cmd, (store) => store.exportSession(id));
      const text = `${json(doc)}\n`;
      if (opts.output === undefined) return print(text.trimEnd());
      const file = resolve(opts.output);
      await writePrivateFile(file, text);
      print(`exported ${id} to ${file}`);
    });

  program
    .command('import')
    .description('import a threadloom export or a PraisonAI JSON session file; given a folder, every *.json in it (never overwrites)')
    .argument('<path>', 'a .json file or a folder of them')
    .option('--id <id>', 'import a single file under this session id')
    .action(async (path: string, opts: { id?: string }, cmd: Command) => {
      const target = resolve(path);
      const kind = await stat(target).then(
        (s) => (s.isDirectory() ? 'folder' : 'file'),
        (err: NodeJS.ErrnoException) => {
          throw new CliError(`cannot read ${target}: ${err.code === 'ENOENT' ? 'no such file or folder' : err.message}`);
        },
      );
      if (kind === 'folder') {
        if (opts.id !== undefined) throw new UsageError('--id applies to a single file, not to a folder of sessions');
        await withStore(cmd, (store) => importFolder(store, target));
        return;
      }
      const info = await withStore(cmd, async (store) => store.importSession(await readJson(target), { id: opts.id }));
      print(`imported ${basename(target)} as ${info.id} (${plural(info.messageCount, 'message')})`);
    });
}

/**
 * One bad file must not stop the others, so each outcome is reported and the exit status says
 * whether any failed. An existing session is skipped, not failed: re-running an import is safe.
 */
async function importFolder(store: SessionStore, folder: string): Promise<void> {
  const entries = await readdir(folder, { withFileTypes: true });
  const files = entries.filter((e) => e.isFile() && e.name.toLowerCase().endsWith('.json')).map((e) => e.name).sort();
  if (files.length === 0) return print(`no *.json files in ${folder}`);
  const rows: string[][] = [];
  let imported = 0;
  let skipped = 0;
  let failed = 0;
  for (const name of files) {
    try {
      const info = await store.importSession(await readJson(join(folder, name)));
      imported++;
      rows.push(['imported', name, `${info.id} (${plural(info.messageCount, 'message')})`]);
    } catch (err) {
      if (threadloomCode(err) === 'SESSION_EXISTS') {
        skipped++;
        rows.push(['skipped', name, `exists, skipped (${(err as Error).message})`]);
        continue;
      }
      // Storage failures are about the store, not the file: stop rather than fail every remaining
      // file, after saying what was already imported.
      if (threadloomCode(err) === 'STORAGE_ERROR') {
        if (rows.length > 0) print(...table(['RESULT', 'FILE', 'DETAIL'], rows), '');
        throw err;
      }
      failed++;
      rows.push(['failed', name, err instanceof Error ? err.message : String(err)]);
    }
  }
  print(...table(['RESULT', 'FILE', 'DETAIL'], rows), '', `${plural(files.length, 'file')}: ${imported} imported, ${skipped} skipped, ${failed} failed`);
  if (failed > 0) throw new CliError(`${failed} of ${plural(files.length, 'file')} failed to import`);
}

async function readJson(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    // Editors on some systems save JSON with a byte-order mark, which JSON.parse rejects.
    return JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (err) {
    throw new CliError(`${basename(file)} is not valid JSON (${(err as Error).message})`, EXIT.usage);
  }
}

/**
 * An export holds a whole conversation, so it is created readable by the owner only, and written
 * to a temporary file then renamed, so a crash never leaves half a document under the final name.
 * (Writing in place would also keep the mode of an existing, possibly world-readable, file.)
 */
async function writePrivateFile(file: string, text: string): Promise<void> {
  const tmp = join(dirname(file), `.${basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await writeFile(tmp, text, { mode: 0o600, flag: 'wx' });
    await rename(tmp, file);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw new CliError(`cannot write ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}
