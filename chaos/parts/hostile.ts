import { Recorder } from '../lib/recorder.js';
import type { ChaosConfig, PartResult } from '../lib/types.js';
export async function hostile(_config: ChaosConfig): Promise<PartResult> {
  return new Recorder('hostile').result();
}
