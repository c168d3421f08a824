// An option mismatch names the option and both values as open() takes them:
// names for codec and evictionPolicy, "none" for an absent limit or time to
// live (the message used to print the native enum numbers: evictionPolicy: 1).
import { ErrorCode, Store } from 'threadkv';
import { storeFactory, throwsWith } from '../support/store';

describe('Store.open(): option mismatch messages', () => {
  const open = storeFactory('open-mismatch');

  it("evictionPolicy: 'none' against 'sieve'", () => {
    const s = open({ maxEntries: 10, evictionPolicy: 'none' });
    throwsWith(() => Store.open(s.name, { evictionPolicy: 'sieve' }), Error, ErrorCode.OPTION_MISMATCH,
      "already exists with evictionPolicy: 'none', but open() asked for evictionPolicy: 'sieve'");
  });

  it('ttlMs: none against a number, and a number against another', () => {
    const s = open();
    throwsWith(() => Store.open(s.name, { ttlMs: 5 }), Error, ErrorCode.OPTION_MISMATCH, 'already exists with ttlMs: none, but open() asked for ttlMs: 5');
    const t = open({ ttlMs: 1000 });
    throwsWith(() => Store.open(t.name, { ttlMs: 5 }), Error, ErrorCode.OPTION_MISMATCH, 'already exists with ttlMs: 1000, but open() asked for ttlMs: 5');
  });

  it('maxEntries and maxBytes: none against a number', () => {
    const s = open();
    throwsWith(() => Store.open(s.name, { maxEntries: 3 }), Error, ErrorCode.OPTION_MISMATCH, 'maxEntries: none, but open() asked for maxEntries: 3');
    throwsWith(() => Store.open(s.name, { maxBytes: 300 }), Error, ErrorCode.OPTION_MISMATCH, 'maxBytes: none, but open() asked for maxBytes: 300');
  });

  it('codec by name', () => {
    const s = open({ codec: 'json' });
    throwsWith(() => Store.open(s.name, { codec: 'buffer' }), Error, ErrorCode.OPTION_MISMATCH, "codec: 'json', but open() asked for codec: 'buffer'");
  });
});
