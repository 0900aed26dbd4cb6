import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Where workloads put their stores: $THREADLOOM_BENCH_DIR, else bench/results/tmp in the checkout.
 * Not os.tmpdir(): on some machines /tmp is watched or specially mounted, and creating and removing
 * files there cost 10-30x what they cost in a user's home directory, which would skew every ratio.
 */
export function benchTmpDir(): string {
  const dir = process.env.THREADLOOM_BENCH_DIR ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'results', 'tmp');
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}
