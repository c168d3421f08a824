// A CommonJS consumer written as .cts: `import x = require()` and ES import
// syntax (compiled to require) both type-check against the "require" types.
import threadkv = require('threadkv');
import keyvEntry = require('threadkv/keyv');
import type { Store } from 'threadkv';
import type { KeyvThreadKv } from 'threadkv/keyv';
import { type Equal, expectType } from './helpers';

expectType<Equal<typeof threadkv.Store, typeof Store>>(true);
expectType<Equal<typeof keyvEntry.KeyvThreadKv, typeof KeyvThreadKv>>(true);
const s = threadkv.Store.open<string[]>('types-cjs', { codec: 'json' });
const list = s.get('k');
expectType<Equal<typeof list, string[] | undefined>>(true);
new keyvEntry.KeyvThreadKv('types-cjs-cache');
// @ts-expect-error: the value must be a string[]
s.set('k', [1, 2]);
// @ts-expect-error: bad codec name
threadkv.Store.open('types-cjs-bad', { codec: 'JSON' });
