// An ES module consumer (.mts under "module": "nodenext"): named and default
// imports of both entry points, resolved through the "import" condition.
import threadkv, { Store, ErrorCode, type StoreOptions } from 'threadkv';
import type keyvEntry from 'threadkv/keyv';
import { KeyvThreadKv } from 'threadkv/keyv';
import Keyv from 'keyv';
import { type Equal, expectType } from './helpers.js';

// The default export is the whole CommonJS module (dist/index.mjs: `export default cjs`).
expectType<Equal<typeof threadkv.Store, typeof Store>>(true);
expectType<Equal<typeof keyvEntry.KeyvThreadKv, typeof KeyvThreadKv>>(true);
const options: StoreOptions = { codec: 'v8' };
const s = Store.open<Map<string, Date>>('types-esm', options);
const m = s.get('k');
expectType<Equal<typeof m, Map<string, Date> | undefined>>(true);
const code: 'ERR_THREADKV_CLOSED' = ErrorCode.CLOSED;
void code;
const keyv = new Keyv({ store: new KeyvThreadKv({ name: 'types-esm-cache' }) });
void keyv;
// @ts-expect-error: keys are strings
s.get(Symbol('k'));
// @ts-expect-error: the value must be a Map<string, Date>
s.set('k', new Map([['k', 1]]));
