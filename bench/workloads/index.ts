/** The workloads, in run order. Each is loaded lazily inside its own child process. */
import type { Workload } from '../lib/types.js';

export const WORKLOADS: Array<{ name: string; title: string; load: () => Promise<Workload> }> = [
  { name: 'append', title: 'Append vs history length, and vs the storage limit', load: async () => (await import('./append.js')).default },
  { name: 'batch', title: 'Batch append', load: async () => (await import('./batch.js')).default },
  { name: 'writers', title: 'Many writers (8 OS processes)', load: async () => (await import('./writers.js')).default },
  { name: 'reads', title: 'Reads', load: async () => (await import('./reads.js')).default },
  { name: 'listing', title: 'Listing', load: async () => (await import('./listing.js')).default },
  { name: 'fork', title: 'Fork', load: async () => (await import('./fork.js')).default },
  { name: 'memory', title: 'Memory (peak RSS)', load: async () => (await import('./memory.js')).default },
  { name: 'postgres', title: 'PostgreSQL', load: async () => (await import('./postgres.js')).default },
];

/** Accepted spellings for --only. */
export const ALIASES: Record<string, string> = {
  history: 'append',
  bare: 'append',
  'append-bare': 'append',
  'storage-limit': 'append',
  writer: 'writers',
  read: 'reads',
  list: 'listing',
  mem: 'memory',
  pg: 'postgres',
};
