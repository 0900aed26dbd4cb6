/**
 * `threadloom demo`: a guided tour that records a real conversation in the real store, so that what
 * it prints can be inspected afterwards with the other commands and in the files themselves.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Command } from 'commander';
import { dataDir, print, withStore } from '../context.js';
import { threadloomCode } from '../errors.js';
import { bold, briefLines, plural, treeLines } from '../format.js';
import type { SessionStore } from '../../store.js';

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('record a short example agent conversation (with a fork, a snapshot, a revert) and show where it is stored')
    .action(async (_opts: object, cmd: Command) => {
      const dir = await dataDir(cmd);
      await withStore(cmd, (store) => runDemo(store, dir));
    });
}

async function runDemo(store: SessionStore, dir: string): Promise<void> {
  print(bold('threadloom demo: recording a short agent conversation'), '');

  const id = await createUnique(store);
  await store.addMessages(id, [
    { role: 'system', content: 'You are a helpful assistant. Use the tools when you need live data.' },
    { role: 'user', content: "What's the weather in Paris right now?" },
    {
      role: 'assistant',
      content: null,
      toolCalls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris","unit":"celsius"}' } }],
    },
    { role: 'tool', toolCallId: 'call_1', name: 'get_weather', content: '{"temperature":18,"conditions":"light rain"}' },
    { role: 'assistant', content: "It's 18 °C in Paris with light rain. Take an umbrella." },
  ]);
  await store.setTitle(id, 'Weather in Paris');
  print(`1. Recorded ${id} "Weather in Paris": system prompt, question, a get_weather tool call, its result, the answer.`);

  const snap = await store.createSnapshot(id, { label: 'first answer' });
  print(`2. Took snapshot ${snap.id} ("first answer", ${plural(snap.messageCount, 'message')}).`);

  await store.addMessages(id, [
    { role: 'user', content: 'And tomorrow?' },
    { role: 'assistant', content: 'Tomorrow looks drier: 21 °C with sunny spells in the afternoon.' },
  ]);
  print('3. Continued the conversation: 2 more messages (7 in all).');

  // Index 3 is the tool result: the fork re-answers from the same data, as a "regenerate" would.
  const fork = await store.forkSession(id, { atIndex: 3, id: `${id}-fork`, title: 'Weather in Paris (in Fahrenheit)' });
  await store.addMessages(fork.id, [
    { role: 'assistant', content: "It's 64 °F (18 °C) in Paris with light rain." },
    { role: 'user', content: 'Thanks, that is what I needed.' },
  ]);
  print(`4. Forked it after message [3] (the tool result) as ${fork.id}, which shares those 4 messages by reference, and continued the fork with 2 of its own.`);

  await store.revertToSnapshot(id, snap.id);
  const reverted = await store.getSession(id);
  print(
    `5. Reverted ${id} to the snapshot: ${plural(reverted.revert?.hiddenCount ?? 0, 'message')} hidden, not deleted;` +
      ` \`threadloom unrevert ${id}\` brings them back (until the next message is added).`,
  );

  await store.shareSession(id);
  print(`6. Shared ${id}. Its token is printed only by \`threadloom share ${id}\`; \`threadloom unshare ${id}\` revokes it.`);

  print('', bold('Session tree'), ...treeLines(await store.getSessionTree(id)));

  print('', bold('Sessions'));
  for (const sid of [id, fork.id]) print(...briefLines(await store.getSession(sid)), '');

  print(
    bold('Where it is stored'),
    `  data directory: ${dir}`,
    ...[id, fork.id].map((sid) => `  ${sid}: ${join(dir, 'sessions', `${sid}.jsonl`)}`),
    '  Each session is an append-only log: every change is one more JSON event line (open one and see).',
    '',
    bold('Try next'),
    `  npx threadloom show ${id}`,
    `  npx threadloom show ${id} --all      # include the reverted messages`,
    `  npx threadloom unrevert ${id}`,
    `  npx threadloom tree ${id}`,
    `  npx threadloom export ${id} -o ${id}.json`,
    '  npx threadloom list',
  );
}

/** Fresh ids each run, so the demo can be run again in the same store. */
async function createUnique(store: SessionStore): Promise<string> {
  for (;;) {
    const id = `demo-${randomBytes(4).toString('hex')}`;
    try {
      await store.createSession({ id, agentName: 'weather-agent', userId: 'demo-user', metadata: { source: 'threadloom demo' } });
      return id;
    } catch (err) {
      if (threadloomCode(err) !== 'SESSION_EXISTS') throw err;
    }
  }
}
