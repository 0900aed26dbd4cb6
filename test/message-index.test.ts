/** The compact per-log message index: exact lookups whatever the ids (UUIDs packed, any other text as UTF-8). */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import fc from 'fast-check';
import { MessageIndex } from '../src/core/message-index.js';
import { uuidv7 } from '../src/core/ids.js';

it('finds every id it holds, by id and by seq, and nothing else, across growth and rehashing', () => {
  fc.assert(
    fc.property(
      fc.uniqueArray(
        fc.oneof(
          fc.string({ minLength: 1, maxLength: 40 }),
          fc.constantFrom('é', 'ü-1', '日本', '🙂', 'a', 'A'),
          fc.uuid(),
          fc.uuid().map((u) => u.toUpperCase()), // not canonical: kept as text, must still round-trip exactly
        ),
        { minLength: 1, maxLength: 400 },
      ),
      (ids) => {
        const index = new MessageIndex();
        ids.forEach((id, i) => index.push(id, 10 + i * 3));
        assert.equal(index.length, ids.length);
        ids.forEach((id, i) => {
          assert.equal(index.positionOf(id), i);
          assert.equal(index.idAt(i), id);
          assert.equal(index.seqAt(i), 10 + i * 3);
          assert.equal(index.positionOfSeq(10 + i * 3), i);
        });
        assert.equal(index.positionOfSeq(11), -1);
        for (const absent of ['', 'absent-id', `${ids[0]}x`]) if (!ids.includes(absent)) assert.equal(index.positionOf(absent), -1);
      },
    ),
    { numRuns: 200 },
  );
});

it('holds 100 000 generated ids exactly and refuses a seq that does not follow', () => {
  const index = new MessageIndex();
  const ids = Array.from({ length: 100_000 }, () => uuidv7());
  ids.forEach((id, i) => index.push(id, i + 2));
  for (let i = 0; i < ids.length; i += 997) {
    assert.equal(index.positionOf(ids[i]!), i);
    assert.equal(index.idAt(i), ids[i]);
  }
  assert.equal(index.positionOf(uuidv7()), -1);
  assert.throws(() => index.push('late', 5), RangeError);
});
