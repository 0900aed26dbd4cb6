/** Commands that create sessions or change their content: create, add, title, clear, delete. */
import { readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { jsonObject } from '../args.js';
import { print, withStore } from '../context.js';
import { plural } from '../format.js';
import { MESSAGE_ROLES, type JsonObject, type MessageRole, type SessionTreeNode } from '../../core/model.js';

export function registerEdit(program: Command): void {
  program
    .command('create')
    .description('create an empty session and print its id')
    .option('--id <id>', 'session id (default: a new UUIDv7)')
    .option('--title <title>', 'title')
    .option('--parent <id>', 'parent session (a child, not a fork: it inherits no messages)')
    .option('--agent <name>', 'agent name')
    .option('--user <id>', 'user id')
    .option('--metadata <json>', 'metadata as a JSON object', jsonObject)
    .action(async (opts: CreateOpts, cmd: Command) => {
      const info = await withStore(cmd, (store) =>
        store.createSession({
          id: opts.id,
          title: opts.title,
          parentId: opts.parent,
          agentName: opts.agent,
          userId: opts.user,
          metadata: opts.metadata,
        }),
      );
      print(info.id);
    });

  program
    .command('add')
    .description('append a message to a session and print its id')
    .argument('<id>', 'session id')
    .addOption(new Option('--role <role>', 'message role').choices(MESSAGE_ROLES as string[]).makeOptionMandatory())
    .requiredOption('--content <text>', "message text ('-' reads it from stdin)")
    .option('--tool-call-id <id>', 'for a tool result: the id of the tool call it answers')
    .option('--name <name>', 'tool or participant name')
    .option('--message-id <id>', 'idempotency key: re-adding the same message with this id is a no-op')
    .action(async (id: string, opts: AddOpts, cmd: Command) => {
      // Reading stdin lets scripts pass content of any size and with any characters, no quoting.
      const content = opts.content === '-' ? readFileSync(0, 'utf8') : opts.content;
      const message = await withStore(cmd, (store) =>
        store.addMessage(id, { role: opts.role, content, toolCallId: opts.toolCallId, name: opts.name, id: opts.messageId }),
      );
      print(message.id);
    });

  program
    .command('title')
    .description("set a session's title ('' removes it)")
    .argument('<id>', 'session id')
    .argument('<text>', 'the new title')
    .action(async (id: string, text: string, _opts: object, cmd: Command) => {
      const info = await withStore(cmd, (store) => store.setTitle(id, text === '' ? null : text));
      print(info.title === null ? `removed the title of ${info.id}` : `titled ${info.id}`);
    });

  program
    .command('clear')
    .description('hide all messages of a session (they stay in its log; see show --all)')
    .argument('<id>', 'session id')
    .action(async (id: string, _opts: object, cmd: Command) => {
      await withStore(cmd, async (store) => {
        const before = (await store.getSessionInfo(id)).messageCount;
        await store.clearSession(id);
        print(`cleared ${id}: ${plural(before, 'message')} hidden`);
      });
    });

  program
    .command('delete')
    .description('delete a session (its children are kept and detached, unless --cascade)')
    .argument('<id>', 'session id')
    .option('--cascade', 'also delete every session under it')
    .action(async (id: string, opts: { cascade?: boolean }, cmd: Command) => {
      await withStore(cmd, async (store) => {
        const tree = await store.getSessionTree(id);
        await store.deleteSession(id, { cascade: opts.cascade === true });
        if (opts.cascade) {
          const count = countNodes(tree) - 1;
          print(`deleted ${id}${count > 0 ? ` and ${plural(count, 'descendant')}` : ''}`);
        } else {
          const kept = tree.children.length;
          print(`deleted ${id}${kept > 0 ? `; ${plural(kept, 'child session')} kept, now without a parent` : ''}`);
        }
      });
    });
}

function countNodes(node: SessionTreeNode): number {
  return 1 + node.children.reduce((n, c) => n + countNodes(c), 0);
}

interface CreateOpts {
  id?: string;
  title?: string;
  parent?: string;
  agent?: string;
  user?: string;
  metadata?: JsonObject;
}

interface AddOpts {
  role: MessageRole;
  content: string;
  toolCallId?: string;
  name?: string;
  messageId?: string;
}
