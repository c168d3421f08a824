// The facts the addon and lib/ share are defined once, natively, and handed
// over at load (NativeConstants): where TypeScript needs its own copy (the
// public ErrorCode object, the CodecName and EvictionPolicy types), these
// tests fail as soon as the two differ.
import assert from 'node:assert/strict';
import { ErrorCode, Store, type CodecName, type EvictionPolicy } from 'threadkv';
import { constants } from '../../dist/native';
import { storeFactory, throwsWith } from '../support/store';

// Every member of the TypeScript unions, spelled as records so that the
// compiler rejects a missing or an extra name.
const CODEC_NAMES: Record<CodecName, true> = { v8: true, json: true, string: true, buffer: true };
const POLICY_NAMES: Record<EvictionPolicy, true> = { none: true, sieve: true };

describe('constants: one definition, native', () => {
  const open = storeFactory('constants');

  it('every error code the binding throws is in ErrorCode, under the same key and value', () => {
    const native = Object.entries(constants.errorCodes);
    assert.ok(native.length >= 12);
    for (const [key, code] of native) {
      assert.equal((ErrorCode as Record<string, string>)[key], code, `ErrorCode.${key}`);
    }
  });

  it('ErrorCode values are distinct ERR_THREADKV_* strings', () => {
    const values = Object.values(ErrorCode);
    assert.equal(new Set(values).size, values.length);
    for (const v of values) assert.match(v, /^ERR_THREADKV_[A-Z_]+$/);
  });

  it('the codec and eviction policy names are the TypeScript types\' members', () => {
    assert.deepEqual([...constants.codecs].sort(), Object.keys(CODEC_NAMES).sort());
    assert.deepEqual([...constants.evictionPolicies].sort(), Object.keys(POLICY_NAMES).sort());
  });

  it('a store opened without options has the native defaults', () => {
    const s = open();
    assert.equal(s.options.codec, constants.defaults.codec);
    assert.equal(s.options.shards, constants.defaults.shards);
    assert.equal(s.options.maxKeyBytes, constants.defaults.maxKeyBytes);
    assert.equal(s.options.maxValueBytes, constants.defaults.maxValueBytes);
  });

  it('the option bits are distinct powers of two, one per option', () => {
    const bits = Object.values(constants.optionBits);
    assert.equal(bits.length, 8);
    assert.equal(new Set(bits).size, 8);
    for (const b of bits) assert.equal(b & (b - 1), 0);
  });

  it('the per-entry charge is the one maxBytes counts and the over-budget message names', () => {
    const s = open({ shards: 1, maxBytes: 1000 });
    const value = 'x'.repeat(1000);
    // The default policy with a limit evicts: its entries carry queue links.
    const charge = constants.entryOverhead + constants.queueLinkBytes;
    throwsWith(() => s.set('k', value), RangeError, ErrorCode.OVER_BUDGET, `${constants.entryOverhead} bytes (+${constants.timerLinkBytes} with a TTL, +${constants.queueLinkBytes} in a store that evicts) of overhead`, `takes ${1 + 1000 + charge} bytes`);
    s.set('k', 'v');
    assert.equal(s.stats().bytes, 1 + 1 + charge);
    const none = open({ shards: 1, maxBytes: 1000, evictionPolicy: 'none' });
    none.set('k', 'v');
    assert.equal(none.stats().bytes, 1 + 1 + constants.entryOverhead);
    // An entry that can expire carries its timer-wheel links, and counts them.
    none.set('t', 'v', { ttlMs: 60_000 });
    assert.equal(none.stats().bytes, 2 * (1 + 1 + constants.entryOverhead) + constants.timerLinkBytes);
    none.delete('t');
    none.expire('k', 60_000); // given a TTL later: its links come with it
    assert.equal(none.stats().bytes, 1 + 1 + constants.entryOverhead + constants.timerLinkBytes);
    void Store;
  });
});
