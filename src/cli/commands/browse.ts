/** Read-only commands: list, show, tree. */
import type { Command } from 'commander';
import { positiveInt } from '../args.js';
import { print, withStore } from '../context.js';
import { json, messageLines, oneLine, sessionHeaderLines, sessionRows, treeLines } from '../format.js';
import type { Message, Session } from '../../core/model.js';

export function registerBrowse(program: Command): void {
  program
    .command('list')
    .description('list sessions, most recently updated first')
    .option('--limit <n>', 'sessions per page (1-1000, default 50)', positiveInt)
    .option('--cursor <cursor>', 'continue from the cursor printed by a previous page')
    .option('--parent <id>', 'only direct children of this session')
    .option('--agent <name>', 'only sessions of this agent')
    .option('--user <id>', 'only sessions of this user')
    .option('--roots', 'only sessions without a parent')
    .option('--json', 'print the page as JSON')
    .action(async (opts: ListOpts, cmd: Command) => {
      // The store reads an undefined option as "not given", so options pass straight through.
      const page = await withStore(cmd, (store) =>
        store.listSessions({
          limit: opts.limit,
          cursor: opts.cursor,
          parentId: opts.parent,
          agentName: opts.agent,
          userId: opts.user,
          rootsOnly: opts.roots === true,
        }),
      );
      if (opts.json) return print(json(page));
      print(...sessionRows(page.sessions));
      // A cursor is only valid with the filters that produced it, so the hint repeats them.
      if (page.nextCursor !== null) print('', `more: threadloom list ${nextPageArgs(opts, page.nextCursor)}`);
    });

  program
    .command('show')
    .description('show a session: its header, snapshots and messages')
    .argument('<id>', 'session id')
    .option('--all', 'include reverted and cleared messages (marked hidden)')
    .option('--json', 'print the session as JSON (with --all, adds "allMessages")')
    .action(async (id: string, opts: { all?: boolean; json?: boolean }, cmd: Command) => {
      await withStore(cmd, async (store) => {
        const session = await store.getSession(id);
        const all = opts.all ? await store.getMessages(id, { includeReverted: true }) : null;
        if (opts.json) return print(json(all ? { ...session, allMessages: all } : session));
        print(...showLines(session, all));
      });
    });

  program
    .command('tree')
    .description('show a session and all sessions forked or created under it')
    .argument('<id>', 'session id')
    .option('--json', 'print the tree as JSON')
    .action(async (id: string, opts: { json?: boolean }, cmd: Command) => {
      const tree = await withStore(cmd, (store) => store.getSessionTree(id));
      print(...(opts.json ? [json(tree)] : treeLines(tree)));
    });
}

function nextPageArgs(opts: ListOpts, cursor: string): string {
  const args: string[] = [];
  if (opts.limit !== undefined) args.push('--limit', String(opts.limit));
  if (opts.parent !== undefined) args.push('--parent', opts.parent);
  if (opts.agent !== undefined) args.push('--agent', shellQuote(opts.agent));
  if (opts.user !== undefined) args.push('--user', shellQuote(opts.user));
  if (opts.roots) args.push('--roots');
  args.push('--cursor', cursor);
  return args.join(' ');
}

/** Agent and user names are free text; quoted so the hint can be pasted into a shell as is. */
function shellQuote(text: string): string {
  return /^[A-Za-z0-9._:@/-]+$/.test(text) ? text : `'${oneLine(text).replace(/'/g, `'\\''`)}'`;
}

interface ListOpts {
  limit?: number;
  cursor?: string;
  parent?: string;
  agent?: string;
  user?: string;
  roots?: boolean;
  json?: boolean;
}

/** Header, a blank line, then the messages; `all` (when given) replaces the visible list and marks what is hidden. */
export function showLines(
  session: Session,
  all: Message[] | null,
  maxContent?: number,
): string[] {
  const lines = sessionHeaderLines(session);
  const visibleIndex = new Map(session.messages.map((m, i) => [m.id, i]));
  const messages = all ?? session.messages;
  lines.push('');
  if (messages.length === 0) lines.push('(no messages)');
  for (const m of messages) {
    lines.push(...messageLines(m, { index: visibleIndex.get(m.id) ?? null, ...(maxContent !== undefined ? { maxContent } : {}) }));
  }
  return lines;
}
