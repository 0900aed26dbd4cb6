/** Small helpers of the chaos campaign: temp dirs, a seeded PRNG, timing, directory fingerprints. */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { inspect } from 'node:util';

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const made: string[] = [];

/** A fresh temp directory, removed by `cleanupTempDirs()` (or left for inspection with CHAOS_KEEP=1). */
export function tempDir(prefix: string): string {
  const d = fs.mkdtempSync(path.join(tmpdir(), `threadloom-chaos-${prefix}-`));
  made.push(d);
  return d;
}

export function cleanupTempDirs(): void {
  if (process.env.CHAOS_KEEP === '1') return;
  for (const d of made.splice(0)) fs.rmSync(d, { recursive: true, force: true });
}

/** mulberry32: small, fast, seedable; the campaign prints its seed so a run can be replayed. */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0 || 0x9e3779b9;
  }
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(maxExclusive: number): number {
    return Math.floor(this.next() * maxExclusive);
  }
  range(min: number, max: number): number {
    return min + this.int(max - min + 1);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  /** Picks a key by weight. */
  weighted<K extends string>(weights: Record<K, number>): K {
    const entries = Object.entries(weights) as Array<[K, number]>;
    let total = 0;
    for (const [, w] of entries) total += w;
    let r = this.next() * total;
    for (const [k, w] of entries) {
      r -= w;
      if (r < 0) return k;
    }
    return entries[entries.length - 1]![0];
  }
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export const round2 = (n: number) => Math.round(n * 100) / 100;

/** Every file under `dir` (relative path → sha256 of its bytes); directories as `path/`. */
export function fingerprint(dir: string, ignore: (rel: string) => boolean = () => false): Map<string, string> {
  const out = new Map<string, string>();
  if (!fs.existsSync(dir)) return out;
  const walk = (rel: string) => {
    for (const ent of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${ent.name}` : ent.name;
      if (ignore(r)) continue;
      if (ent.isDirectory()) {
        out.set(`${r}/`, 'dir');
        walk(r);
      } else if (ent.isSymbolicLink()) {
        out.set(r, `symlink:${fs.readlinkSync(path.join(dir, r))}`);
      } else {
        out.set(r, createHash('sha256').update(fs.readFileSync(path.join(dir, r))).digest('hex'));
      }
    }
  };
  walk('');
  return out;
}

/** Lines describing how two fingerprints differ (empty when equal). */
export function diffFingerprints(before: Map<string, string>, after: Map<string, string>): string[] {
  const out: string[] = [];
  for (const [k, v] of after) {
    if (!before.has(k)) out.push(`added ${k}`);
    else if (before.get(k) !== v) out.push(`changed ${k}`);
  }
  for (const k of before.keys()) if (!after.has(k)) out.push(`removed ${k}`);
  return out;
}

/** One line describing any thrown value (class, code, message). */
export function describeError(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return `${err.constructor.name}${code ? `[${String(code)}]` : ''}: ${err.message.slice(0, 300)}`;
  }
  return inspect(err, { depth: 2 }).slice(0, 300);
}

export async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const t0 = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - t0 };
}

/** Deterministic content for a message id, so a retry after a crash sends exactly the same message. */
export function contentFor(id: string): string {
  let h = 0;
  for (let i = 0; i < id.length; i++) h = (Math.imul(h, 31) + id.charCodeAt(i)) >>> 0;
  return `msg ${id} ${'x'.repeat(h % 240)}`;
}
