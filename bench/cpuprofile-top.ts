/**
 * Summarises a V8 .cpuprofile (from `node --cpu-prof`): top functions by self time and by inclusive
 * time. Usage: node --import tsx bench/cpuprofile-top.ts [--top N] <file.cpuprofile>…
 * (with several files, e.g. the main thread's and tsx's loader thread's, the largest is summarised).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

const argv = process.argv.slice(2);
const topAt = argv.indexOf('--top');
const top = topAt >= 0 ? Number(argv.splice(topAt, 2)[1]) : 25;
const file = argv.sort((a, b) => fs.statSync(b).size - fs.statSync(a).size)[0];
if (!file || !Number.isFinite(top)) {
  console.error('usage: cpuprofile-top.ts [--top N] <file.cpuprofile>…');
  process.exit(2);
}
const prof = JSON.parse(fs.readFileSync(file, 'utf8')) as { nodes: Node[]; startTime: number; endTime: number; samples: number[] };
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const totalHits = prof.nodes.reduce((a, n) => a + (n.hitCount ?? 0), 0);
const usPerHit = (prof.endTime - prof.startTime) / Math.max(1, totalHits);
const label = (n: Node) => {
  const cf = n.callFrame;
  const where = cf.url ? `${path.relative(process.cwd(), cf.url.replace(/^file:\/\//, ''))}:${cf.lineNumber + 1}` : '';
  return `${cf.functionName || '(anonymous)'} ${where}`.trim();
};
const self = new Map<string, number>();
for (const n of prof.nodes) self.set(label(n), (self.get(label(n)) ?? 0) + (n.hitCount ?? 0));
// Inclusive: hits in a node's subtree, counted once per function per stack (no double count on recursion).
const inclusive = new Map<string, number>();
const walk = (id: number, onStack: Map<string, number>) => {
  const n = byId.get(id)!;
  const l = label(n);
  onStack.set(l, (onStack.get(l) ?? 0) + 1);
  const hits = n.hitCount ?? 0;
  if (hits > 0) for (const k of onStack.keys()) inclusive.set(k, (inclusive.get(k) ?? 0) + hits);
  for (const c of n.children ?? []) walk(c, onStack);
  const left = onStack.get(l)! - 1;
  if (left === 0) onStack.delete(l);
  else onStack.set(l, left);
};
walk(prof.nodes[0]!.id, new Map());
const show = (title: string, m: Map<string, number>) => {
  console.log(`\n${title} (of ${((totalHits * usPerHit) / 1000).toFixed(0)} ms sampled)`);
  for (const [k, v] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${((100 * v) / totalHits).toFixed(1).padStart(6)}%  ${((v * usPerHit) / 1000).toFixed(1).padStart(8)} ms  ${k}`);
  }
};
show('self time', self);
show('inclusive time', inclusive);
