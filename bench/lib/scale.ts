/** Picks a workload's sizes for the run's mode, so every size of every mode is written in one place. */
import type { BenchConfig, BenchMode } from './types.js';

/**
 * `bySize(config, { full: [100, 10_000, 100_000], quick: [100, 10_000, 100_000], smoke: [20, 100, 300] })`
 * returns the value for `config.mode`.
 */
export function bySize<T>(config: Pick<BenchConfig, 'mode'>, sizes: Record<BenchMode, T>): T {
  return sizes[config.mode];
}
