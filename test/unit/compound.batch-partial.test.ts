// A non-atomic setMany refused part-way (a capacity limit with evictionPolicy
// 'none', an entry over a shard's byte budget) stops at the first refused
// entry and says exactly which entries were stored: `err.stored` (entries
// 0 .. stored - 1 were, the one at index `stored` was refused, no later one
// was tried) and the message. It used to store part of the batch and say
// "nothing was changed". An atomic setMany is all or nothing.
import assert from 'node:assert/strict';
import { ErrorCode, type ThreadKvError } from 'threadkv';
import { storeFactory, throwsUnchanged, throwsWith } from '../support/store';

describe('setMany: a non-atomic batch refused part-way', () => {
  const open = storeFactory('setmany-partial');

  it('stops at the first entry past maxEntries and says the first entries were stored', () => {
    const s = open({ shards: 1, maxEntries: 2, evictionPolicy: 'none' });
    const err = throwsWith(
      () => s.setMany([['x', 1], ['y', 2], ['z', 3], ['w', 4]]),
      RangeError,
      ErrorCode.STORE_FULL,
      'the first 2 entries (indices 0 to 1) were stored; entry 2 (key "z") was refused and no later entry was tried',
    ) as ThreadKvError;
    assert.equal(err.stored, 2);
    assert.doesNotMatch(err.message, /nothing was changed/);
    assert.deepEqual([...s.keys()].sort(), ['x', 'y']);
  });

  it('says no entry was stored when the first one is refused', () => {
    const s = open({ shards: 1, maxEntries: 1, evictionPolicy: 'none' });
    s.set('full', 0);
    const err = throwsWith(() => s.setMany([['a', 1], ['b', 2]]), RangeError, ErrorCode.STORE_FULL, 'no entry was stored: entry 0 (key "a")') as ThreadKvError;
    assert.equal(err.stored, 0);
    assert.deepEqual([...s.keys()], ['full']);
  });

  it('an entry over a shard\'s byte budget stops the batch the same way', () => {
    const s = open({ shards: 1, maxBytes: 500 });
    const err = throwsWith(() => s.setMany([['a', 'x'], ['big', 'y'.repeat(1000)], ['c', 'z']]), RangeError, ErrorCode.OVER_BUDGET, 'the first 1 entry (index 0) was stored') as ThreadKvError;
    assert.equal(err.stored, 1);
    assert.deepEqual([...s.keys()].sort(), ['a']);
  });

  it('an atomic batch refused is all or nothing, with no `stored`', () => {
    const s = open({ shards: 1, maxEntries: 2, evictionPolicy: 'none' });
    s.set('x', 0);
    throwsUnchanged(s, () => s.setMany([['y', 1], ['z', 2]], { atomic: true }), RangeError, ErrorCode.STORE_FULL, 'nothing was changed');
    let caught: unknown;
    try {
      s.setMany([['y', 1], ['z', 2]], { atomic: true });
    } catch (e) {
      caught = e;
    }
    assert.equal((caught as ThreadKvError).stored, undefined);
  });
});
