/**
 * A separate process driving the file driver, for the multi-process tests of test/file-driver.test.ts.
 * Usage: file-driver-child.ts <command> <json args>; it prints one line per milestone on stdout.
 */
import * as fs from 'node:fs';
import { createFileDriver } from '../../src/drivers/file.js';
import { createPlan, messagesPlan } from './file-driver-fixtures.js';

const [command, rawArgs] = process.argv.slice(2);
const args = JSON.parse(rawArgs ?? '{}') as Record<string, unknown>;
const dir = args.dir as string;
const id = args.id as string;
const durability = (args.durability as 'full' | 'process' | undefined) ?? 'process';
const driver = createFileDriver({ dir, durability, lockTimeoutMs: (args.lockTimeoutMs as number | undefined) ?? 30_000 });
const say = (line: string) => process.stdout.write(line + '\n');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitForFile(file: string): Promise<void> {
  while (!fs.existsSync(file)) await sleep(1);
}

async function main(): Promise<void> {
  switch (command) {
    case 'append': {
      // Appends `count` single-message batches; message ids encode writer and counter.
      const count = args.count as number;
      say('ready');
      if (args.go) await waitForFile(args.go as string);
      for (let i = 0; i < count; i++) await driver.append(id, 'update', messagesPlan(id, [`w${args.writer}-${i}`]));
      say('done');
      break;
    }
    case 'create': {
      say('ready');
      await waitForFile(args.go as string);
      try {
        await driver.append(id, 'create', createPlan(id));
        say('created');
      } catch (err) {
        say(`error ${(err as { code?: string }).code ?? String(err)}`);
      }
      break;
    }
    case 'hold': {
      // Holds the session lock (inside a plan) for `ms`, then writes nothing.
      await driver.append(id, 'update', async () => {
        say('locked');
        await sleep(args.ms as number);
        return null;
      });
      say('released');
      break;
    }
    case 'loop': {
      // Appends forever (batches of 1-3 events), printing each acknowledged seq, until killed.
      for (let i = 0; ; i++) {
        const n = 1 + (i % 3);
        const ids = Array.from({ length: n }, (_, k) => `k${args.run}-${i}-${k}`);
        const written = await driver.append(id, 'update', messagesPlan(id, ids));
        for (const e of written) say(`ack ${e.seq} ${(e as { message: { id: string } }).message.id}`);
      }
    }
    case 'sessions': {
      // Creates `count` sessions `${prefix}-${i}`, then rewrites their summaries `rounds` times.
      const prefix = args.prefix as string;
      const count = args.count as number;
      const rounds = (args.rounds as number | undefined) ?? 0;
      for (let i = 0; i < count; i++) {
        const sid = `${prefix}-${i}`;
        await driver.append(sid, 'create', createPlan(sid, 0, { updatedAt: stamp(i, 0), agentName: prefix }));
      }
      for (let r = 1; r <= rounds; r++) {
        for (let i = 0; i < count; i++) {
          const sid = `${prefix}-${i}`;
          await driver.append(sid, 'update', messagesPlan(sid, [`${sid}-r${r}`], { updatedAt: stamp(i, r), agentName: prefix }));
        }
      }
      say('done');
      break;
    }
    case 'churn': {
      // Creates, appends to and removes one id over and over (racing other churners), so lock files
      // are removed and recreated under waiting writers. Prints a tally; any error but the expected
      // races (exists, not found) fails the process.
      const tally = { created: 0, appended: 0, removed: 0 };
      say('ready');
      await waitForFile(args.go as string);
      for (let i = 0; i < (args.rounds as number); i++) {
        const step = i % 4;
        try {
          if (step === 0) {
            await driver.append(id, 'create', createPlan(id));
            tally.created++;
          } else if (step < 3) {
            await driver.append(id, 'update', messagesPlan(id, [`w${args.writer}-${i}-a`, `w${args.writer}-${i}-b`]));
            tally.appended++;
          } else {
            await driver.remove(id);
            tally.removed++;
          }
        } catch (err) {
          const code = (err as { code?: string }).code;
          if (code !== 'SESSION_EXISTS' && code !== 'SESSION_NOT_FOUND') throw err;
        }
      }
      say(`tally ${JSON.stringify(tally)}`);
      break;
    }
    default:
      throw new Error(`unknown command ${command}`);
  }
  await driver.close();
}

function stamp(i: number, round: number): string {
  return new Date(Date.UTC(2030, 0, 1) + round * 86_400_000 + i * 1000).toISOString();
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
