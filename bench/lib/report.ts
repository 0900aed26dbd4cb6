/** Plain-text rendering of result tables and the summary. */
import type { Table, Target, WorkloadResult } from './types.js';
import { fmtBytes, fmtRatio } from './stats.js';

export function renderTable(t: Table): string {
  const cells = [t.columns, ...t.rows.map((r) => r.map((c) => String(c)))];
  const widths = t.columns.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const left = new Set(t.leftAlign ?? [0]);
  const line = (r: string[]) =>
    '  ' + r.map((c, i) => (left.has(i) ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  const out = [`  ${t.title}`, line(t.columns), '  ' + widths.map((w) => '-'.repeat(w)).join('  ')];
  for (const r of cells.slice(1)) out.push(line(r));
  return out.join('\n');
}

export function targetRow(t: Target): string[] {
  return [
    t.workload,
    t.name,
    t.unit === 'count' ? String(t.measured) : fmtRatio(t.measured),
    `${t.atLeast ? '≥' : '≤'} ${t.limit}${t.unit === 'count' ? '' : '×'}`,
    t.pass ? 'PASS' : 'FAIL',
    t.detail,
  ];
}

export function renderResult(r: WorkloadResult): string {
  const parts: string[] = [];
  const rss = r.peakRssBytes === undefined ? '' : `, peak RSS ${fmtBytes(r.peakRssBytes)} (its process, setup included)`;
  const head = `== ${r.title} (${r.name}) — ${(r.elapsedMs / 1000).toFixed(1)} s${rss}`;
  parts.push(head);
  if (r.skipped) parts.push(`  SKIPPED: ${r.skipped}`);
  for (const t of r.tables) parts.push(renderTable(t), '');
  if (r.targets.length > 0) {
    parts.push(
      renderTable({
        title: 'Targets',
        columns: ['workload', 'target', 'measured', 'limit', 'result', 'figures'],
        rows: r.targets.map(targetRow),
        leftAlign: [0, 1, 5],
      }),
    );
  }
  for (const n of r.notes) parts.push(`  note: ${n}`);
  for (const e of r.integrityErrors) parts.push(`  INTEGRITY ERROR: ${e}`);
  return parts.join('\n');
}

export function renderSummary(results: WorkloadResult[]): string {
  const targets = results.flatMap((r) => r.targets);
  const rows = targets.map(targetRow);
  const parts = [
    renderTable({
      title: `Summary: ${targets.filter((t) => t.pass).length} of ${targets.length} targets pass`,
      columns: ['workload', 'target', 'measured', 'limit', 'result', 'figures'],
      rows,
      leftAlign: [0, 1, 5],
    }),
  ];
  for (const r of results) if (r.skipped) parts.push(`  ${r.name}: skipped — ${r.skipped}`);
  const integrity = results.flatMap((r) => r.integrityErrors.map((e) => `${r.name}: ${e}`));
  parts.push(integrity.length === 0 ? '  integrity: 0 lost, 0 duplicated writes' : integrity.map((e) => `  INTEGRITY ERROR ${e}`).join('\n'));
  return parts.join('\n');
}
