/** The command tree. Each command lives in its own module under commands/ and registers itself here. */
import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { registerBrowse } from './commands/browse.js';
import { registerDemo } from './commands/demo.js';
import { registerDoctor } from './commands/doctor.js';
import { registerEdit } from './commands/edit.js';
import { registerHistory } from './commands/history.js';
import { registerMigrate } from './commands/migrate.js';
import { registerSharing } from './commands/sharing.js';
import { registerTransfer } from './commands/transfer.js';

function packageVersion(): string {
  // src/cli/ and dist/cli/ are both two levels below package.json.
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

export function buildProgram(): Command {
  const program = new Command('threadloom');
  program
    .description('Inspect and manage threadloom agent sessions (append-only event logs).')
    .version(packageVersion(), '-V, --version')
    .option('--dir <path>', 'data directory (default: $THREADLOOM_DIR, else ~/.threadloom)')
    .option('--url <url>', 'a backend URL instead of a directory, e.g. postgres://user@host/db (default: $THREADLOOM_URL)')
    .addOption(new Option('--durability <mode>', "'full' fsyncs every write, 'process' survives process crashes only").choices(['full', 'process']))
    // Set before the subcommands are added: commander copies these settings into each of them.
    .exitOverride()
    .configureHelp({ showGlobalOptions: true, sortSubcommands: false })
    .configureOutput({ outputError: (text, write) => write(text.replace(/^error: /, 'threadloom: ')) })
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText(
      'after',
      '\nExit codes: 0 ok, 1 failure, 2 usage or invalid input, 3 not found, 4 conflict (exists, stale, locked), 5 corrupt or storage error.\n' +
        'Try: threadloom demo',
    );
  registerBrowse(program);
  registerEdit(program);
  registerHistory(program);
  registerSharing(program);
  registerTransfer(program);
  registerMigrate(program);
  registerDemo(program);
  registerDoctor(program);
  return program;
}
