/**
 * Many writers, file driver: 8 OS processes (bench/writer.ts) append a fixed count each, all to one
 * session and each to its own session, in both durability modes, against one process doing the same
 * total as the baseline; every acknowledged append must be there exactly once afterwards, through a
 * fresh store and in the raw log, with gap-free seqs (bench/lib/many-writers.ts; the postgres workload
 * runs the same on PostgreSQL).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileStore, logPath, type Durability } from '../lib/fixtures.js';
import { measureWriters, WRITER_COLUMNS, type WriterTarget } from '../lib/many-writers.js';
import { bySize } from '../lib/scale.js';
import { target, type Workload } from '../lib/types.js';

/** The seqs of a log file's lines, parsed without the driver. */
function rawLogSeqs(dir: string, id: string): number[] {
  return fs
    .readFileSync(logPath(dir, id), 'utf8')
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => (JSON.parse(l) as { seq: number }).seq);
}

const workload: Workload = {
  name: 'writers',
  title: 'Many writers (8 OS processes)',
  async run(ctx, out) {
    const plans: Array<{ mode: Durability; count: number }> = [
      { mode: 'process', count: bySize(ctx.config, { full: 500, quick: 200, smoke: 5 }) },
      { mode: 'full', count: bySize(ctx.config, { full: 150, quick: 60, smoke: 2 }) },
    ];
    const rows: Array<Array<string | number>> = [];
    const data: Record<string, unknown> = {};
    let lost = 0;
    let dup = 0;
    let run = 0;
    for (const { mode, count } of plans) {
      const freshTarget = async (): Promise<WriterTarget> => {
        const dir = path.join(ctx.tmpDir, `run-${run++}`);
        return {
          args: ['--dir', dir, '--durability', mode],
          open: () => fileStore(dir, 'process'),
          rawSeqs: async (id) => rawLogSeqs(dir, id),
          cleanup: async () => fs.rmSync(dir, { recursive: true, force: true }),
        };
      };
      const m = await measureWriters(ctx.config.root, `file '${mode}'`, count, freshTarget, ctx.log);
      rows.push(...m.rows);
      Object.assign(data, m.data);
      out.integrityErrors.push(...m.problems);
      lost += m.lost;
      dup += m.duplicated;
    }
    out.tables.push({
      title: 'Concurrent appends from separate OS processes (verified afterwards from a fresh store and the raw logs)',
      columns: WRITER_COLUMNS,
      rows,
      leftAlign: [0, 1],
    });
    out.notes.push(`verification: ${lost} lost, ${dup} duplicated${out.integrityErrors.length ? ` — ${out.integrityErrors.length} problem(s), see below` : ''}`);
    const t = target('writers', 'lost + duplicated appends (all layouts)', lost + dup, 0, `${lost} lost, ${dup} duplicated, ${out.integrityErrors.length} integrity problem(s)`, false, 'count');
    t.pass = t.pass && out.integrityErrors.length === 0;
    out.targets.push(t);
    out.data = data;
  },
};

export default workload;
