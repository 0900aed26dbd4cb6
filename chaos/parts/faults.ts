import { Recorder } from '../lib/recorder.js';
import type { ChaosConfig, PartResult } from '../lib/types.js';
export async function faults(_config: ChaosConfig): Promise<PartResult> {
  return new Recorder('faults').result();
}
