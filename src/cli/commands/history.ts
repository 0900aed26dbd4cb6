/** Commands that branch or rewind a session: fork, snapshot, snapshots, revert, unrevert. */
import type { Command } from 'commander';
import { indexOrId } from '../args.js';
import { print, withStore } from '../context.js';
import { json, plural, snapshotRows } from '../format.js';
import type { SessionStore } from '../../store.js';

export function registerHistory(program: Command): void {
  program
    .command('fork')
    .description('fork a session (by reference: no history is copied) and print the new id')
    .argument('<id>', 'session to fork')
    .option('--at <messageId|index>', 'last message to include: an index as shown by show (all digits) or a message id; default: the last one')
    .option('--title <title>', 'title of the fork (default: "Fork of …")')
    .option('--id <newId>', 'id of the fork (default: a new UUIDv7)')
    .action(async (id: string, opts: { at?: string; title?: string; id?: string }, cmd: Command) => {
      const at = opts.at === undefined ? undefined : indexOrId(opts.at);
      const info = await withStore(cmd, (store) =>
        store.forkSession(id, {
          atIndex: typeof at === 'number' ? at : undefined,
          atMessageId: typeof at === 'string' ? at : undefined,
          title: opts.title,
          id: opts.id,
        }),
      );
      print(info.id);
    });

  program
    .command('snapshot')
    .description('record a snapshot of the visible messages and print its id')
    .argument('<id>', 'session id')
    .option('--label <label>', 'a label for the snapshot')
    .action(async (id: string, opts: { label?: string }, cmd: Command) => {
      const snap = await withStore(cmd, (store) => store.createSnapshot(id, { label: opts.label }));
      print(snap.id);
    });

  program
    .command('snapshots')
    .description("list a session's snapshots")
    .argument('<id>', 'session id')
    .option('--json', 'print them as JSON')
    .action(async (id: string, opts: { json?: boolean }, cmd: Command) => {
      const snapshots = await withStore(cmd, (store) => store.listSnapshots(id));
      print(...(opts.json ? [json(snapshots)] : snapshotRows(snapshots)));
    });

  program
    .command('revert')
    .description('hide the messages after a snapshot or message (undo with unrevert until the next message is added)')
    .requiredOption('--to <snapshotId|messageId|index>', 'a snapshot id of this session, a message id, or an index as shown by show (all digits)')
    .argument('<id>', 'session id')
    .action(async (id: string, opts: { to: string }, cmd: Command) => {
      await withStore(cmd, async (store) => {
        await revert(store, id, opts.to);
        const session = await store.getSession(id);
        const hidden = session.revert?.hiddenCount ?? 0;
        print(`reverted ${id}: ${plural(session.messageCount, 'message')} shown, ${hidden} hidden (threadloom unrevert ${id} brings them back)`);
      });
    });

  program
    .command('unrevert')
    .description('bring back the messages hidden by the last revert')
    .argument('<id>', 'session id')
    .action(async (id: string, _opts: object, cmd: Command) => {
      await withStore(cmd, async (store) => {
        const before = await store.getSession(id);
        if (!before.revert) return print(`${id} has no pending revert; nothing to restore`);
        const after = await store.unrevert(id);
        print(`restored ${plural(after.messageCount - before.messageCount, 'message')} in ${id} (${plural(after.messageCount, 'message')} shown)`);
      });
    });
}

/**
 * Snapshot and message ids share one namespace on the command line. A snapshot of this session wins
 * because that is what a user copying an id from `snapshots` means; anything else is a message id.
 */
export async function revert(store: SessionStore, id: string, to: string): Promise<void> {
  const target = indexOrId(to);
  if (typeof target === 'number') {
    await store.revertToMessage(id, target);
    return;
  }
  const snapshots = await store.listSnapshots(id);
  if (snapshots.some((s) => s.id === target)) await store.revertToSnapshot(id, target);
  else await store.revertToMessage(id, target);
}
