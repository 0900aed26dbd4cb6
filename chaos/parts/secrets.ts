import { Recorder } from '../lib/recorder.js';
import type { ChaosConfig, PartResult } from '../lib/types.js';
export async function secrets(_config: ChaosConfig): Promise<PartResult> {
  return new Recorder('secrets').result();
}
