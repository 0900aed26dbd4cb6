/** Terminal rendering. Pure functions from public shapes to lines of text; nothing here does I/O. */
import type { Message, MessageContent, Session, SessionInfo, SessionTreeNode, Snapshot } from '../core/model.js';

const useColour = Boolean(process.stdout.isTTY) && !process.env.NO_COLOR && process.env.TERM !== 'dumb';
const paint = (code: string) => (text: string) => (useColour ? `\x1b[${code}m${text}\x1b[0m` : text);
export const bold = paint('1');
export const dim = paint('2');

/**
 * Session content comes from agents, imports and other untrusted places; an escape sequence in it
 * must not be able to drive the user's terminal, so control characters are shown, not sent.
 */
export function sanitize(text: string): string {
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** For table cells and header values, where a newline would break the layout. */
export function oneLine(text: string, max = Infinity): string {
  return truncate(sanitize(text.replace(/\s*\n\s*/g, ' ')), max);
}

export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, Math.max(0, max - 1))}…`;
}

const pad2 = (n: number) => String(n).padStart(2, '0');

/** Compact local time: `2024-05-01 14:03:27`. */
export function formatTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return (
    `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ` +
    `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`
  );
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** Left-aligned columns; the last column is not padded so lines carry no trailing spaces. */
export function table(headers: string[], rows: string[][]): string[] {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [bold(line(headers)), ...rows.map(line)];
}

export function sessionRows(sessions: SessionInfo[]): string[] {
  if (sessions.length === 0) return ['no sessions'];
  return table(
    ['ID', 'TITLE', 'MESSAGES', 'UPDATED', 'PARENT'],
    sessions.map((s) => [
      s.id,
      s.title === null ? '-' : oneLine(s.title, 40),
      String(s.messageCount),
      formatTime(s.updatedAt),
      s.parentId ?? '-',
    ]),
  );
}

export function snapshotRows(snapshots: Snapshot[]): string[] {
  if (snapshots.length === 0) return ['no snapshots'];
  return table(
    ['ID', 'LABEL', 'MESSAGES', 'CREATED', 'SEQ'],
    snapshots.map((s) => [s.id, s.label === null ? '-' : oneLine(s.label, 40), String(s.messageCount), formatTime(s.createdAt), String(s.seq)]),
  );
}

export function contentText(content: MessageContent): string {
  if (content === null) return '';
  if (typeof content === 'string') return content;
  return content
    .map((part) => (part.type === 'text' && typeof part.text === 'string' ? part.text : `[${typeof part.type === 'string' ? part.type : 'part'}]`))
    .join('\n');
}

export interface MessageStyle {
  /** Position among visible messages (what `fork --at` and `revert --to` take); null for hidden ones. */
  index: number | null;
  /** Cut content to this many characters (for summaries such as the demo). */
  maxContent?: number;
}

export function messageLines(m: Message, style: MessageStyle): string[] {
  const tag = style.index === null ? dim('[-]') : `[${style.index}]`;
  const facts = [bold(m.role), formatTime(m.createdAt)];
  if (m.role === 'tool' && m.toolCallId !== undefined) facts.push(`result of ${oneLine(m.toolCallId)}${m.name ? ` (${oneLine(m.name)})` : ''}`);
  else if (m.name !== undefined) facts.push(`name ${oneLine(m.name)}`);
  if (style.index === null) facts.push(dim('hidden'));
  const body: string[] = [];
  const text = contentText(m.content);
  if (text.length > 0) {
    const shown = style.maxContent === undefined ? sanitize(text) : oneLine(text, style.maxContent);
    body.push(...shown.split('\n'));
  }
  for (const call of m.toolCalls ?? []) {
    const args = style.maxContent === undefined ? oneLine(call.function.arguments) : oneLine(call.function.arguments, style.maxContent);
    body.push(`→ ${oneLine(call.function.name)}(${args})${style.maxContent === undefined ? dim(`  [${oneLine(call.id)}]`) : ''}`);
  }
  if (body.length === 0) body.push(dim('(empty)'));
  return [`${tag} ${facts.join(' · ')}`, ...body.map((l) => `    ${l}`)];
}

export function sessionHeaderLines(s: Session): string[] {
  const rows: Array<[string, string]> = [
    ['Session', s.id],
    ['Title', s.title === null ? '-' : oneLine(s.title)],
    ['Parent', s.parentId ?? '-'],
  ];
  if (s.forkedFrom) {
    const at = s.forkedFrom.messageId === null ? 'before any message' : `after message ${s.forkedFrom.messageId}`;
    rows.push(['Forked', `${at} (parent seq ${s.forkedFrom.seq})`]);
  }
  rows.push(
    ['Agent', s.agentName === null ? '-' : oneLine(s.agentName)],
    ['User', s.userId === null ? '-' : oneLine(s.userId)],
    ['Metadata', Object.keys(s.metadata).length === 0 ? '-' : oneLine(JSON.stringify(s.metadata), 200)],
    ['Shared', s.shared ? 'yes' : 'no'],
    ['Created', formatTime(s.createdAt)],
    ['Updated', formatTime(s.updatedAt)],
    ['Head seq', String(s.headSeq)],
    ['Messages', String(s.messageCount)],
    ['Revert', revertText(s)],
  );
  if (s.checkpoint) rows.push(['Compacted', `through message ${s.checkpoint.throughMessageId}: ${oneLine(s.checkpoint.summary, 80)}`]);
  rows.push(['Snapshots', s.snapshots.length === 0 ? 'none' : String(s.snapshots.length)]);
  const lines = rows.map(([k, v]) => `${bold(k.padEnd(10))}${v}`);
  for (const snap of s.snapshots) {
    lines.push(`  ${snap.id}  ${snap.label === null ? '-' : oneLine(snap.label, 40)}  ${plural(snap.messageCount, 'message')}  ${formatTime(snap.createdAt)}`);
  }
  return lines;
}

function revertText(s: Session): string {
  if (!s.revert) return 'none';
  const target = s.revert.snapshotId ? `to snapshot ${s.revert.snapshotId}` : s.revert.toMessageId ? `to message ${s.revert.toMessageId}` : 'to empty';
  return `${target}, ${plural(s.revert.hiddenCount, 'message')} hidden (threadloom unrevert ${s.id} brings them back)`;
}

export function treeLines(node: SessionTreeNode): string[] {
  const label = (n: SessionTreeNode) => `${n.id}  ${n.title === null ? dim('(untitled)') : oneLine(n.title, 60)}  ${dim(`(${plural(n.messageCount, 'message')})`)}`;
  const lines = [label(node)];
  const walk = (children: SessionTreeNode[], indent: string) => {
    children.forEach((child, i) => {
      const last = i === children.length - 1;
      lines.push(`${indent}${last ? '└── ' : '├── '}${label(child)}`);
      walk(child.children, `${indent}${last ? '    ' : '│   '}`);
    });
  };
  walk(node.children, '');
  return lines;
}

export function json(value: unknown): string {
  return JSON.stringify(value, null, 2);
}

/** A few lines per session for overviews (the demo): the essentials, then messages cut to one line. */
export function briefLines(s: Session, maxContent = 72): string[] {
  const facts = [
    `${plural(s.messageCount, 'message')}`,
    s.parentId ? `fork of ${s.parentId}` : 'root',
    `shared: ${s.shared ? 'yes' : 'no'}`,
    `snapshots: ${s.snapshots.length}`,
  ];
  if (s.revert) facts.push(`reverted: ${s.revert.hiddenCount} hidden`);
  const lines = [`${bold(s.id)}  ${s.title === null ? dim('(untitled)') : oneLine(s.title, 60)}`, `  ${dim(facts.join(' · '))}`];
  s.messages.forEach((m, i) => lines.push(...messageLines(m, { index: i, maxContent }).map((l) => `  ${l}`)));
  return lines;
}
