import type { Workload } from '../lib/types.js';
const workload: Workload = { name: 'postgres', title: 'PostgreSQL', async run(_ctx, out) { out.skipped = 'not yet'; } };
export default workload;
