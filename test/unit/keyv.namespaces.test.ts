// Keyv namespaces sharing one threadkv store never touch each other's keys,
// even when one namespace is a prefix of another ('a' and 'a:b': Keyv names
// their keys 'a:…' and 'a:b:…', so a plain prefix match of 'a:' would catch
// both).
import assert from 'node:assert/strict';
import Keyv from 'keyv';
import { Store } from 'threadkv';
import { KeyvThreadKv } from 'threadkv/keyv';
import { uniqueName } from '../support/workers';

describe('keyv: namespaces', () => {
  let name = '';
  beforeEach(() => {
    name = uniqueName('keyv-ns');
  });
  afterEach(() => {
    Store.destroy(name);
  });

  const keyv = (namespace: string | undefined): Keyv => new Keyv({ store: new KeyvThreadKv(name), namespace });

  it("namespace 'a' clear() leaves namespace 'a:b' alone, and the other way round", async () => {
    const a = keyv('a');
    const ab = keyv('a:b');
    await a.set('b:x', 'from a');
    await ab.set('x', 'from a:b');
    assert.equal(await a.get('b:x'), 'from a');
    assert.equal(await ab.get('x'), 'from a:b');
    await a.clear();
    assert.equal(await a.get('b:x'), undefined);
    assert.equal(await ab.get('x'), 'from a:b');
    await a.set('y', 1);
    await ab.clear();
    assert.equal(await ab.get('x'), undefined);
    assert.equal(await a.get('y'), 1);
  });

  it('no namespace clear() touches another namespace: a, a:b, a:b:c, b, :, \\ and a\\ in one store', async () => {
    const names = ['a', 'a:b', 'a:b:c', 'b', ':', '\\', 'a\\'];
    const all = names.map((ns) => keyv(ns));
    for (const [i, k] of all.entries()) {
      await k.set('k', names[i]);
      await k.set('b:c:k', names[i]);
    }
    for (const [i, k] of all.entries()) {
      await k.clear();
      for (const [j, other] of all.entries()) {
        const expected = j <= i ? undefined : names[j];
        assert.equal(await other.get('k'), expected, `after ${names[i]}.clear(), ${names[j]}'s 'k'`);
        assert.equal(await other.get('b:c:k'), expected, `after ${names[i]}.clear(), ${names[j]}'s 'b:c:k'`);
      }
    }
  });

  it("stores a namespace without ':' or '\\' under Keyv's own key names; escapes them otherwise", async () => {
    await keyv('plain').set('k', 1);
    await keyv('a:b').set('k', 2);
    assert.deepEqual([...Store.open(name).keys()].sort(), ['a\\:b:k', 'plain:k']);
  });

  it("the adapter's iterator yields each namespace's own keys, as Keyv names them", async () => {
    const a = new KeyvThreadKv(name);
    a.namespace = 'a';
    const ab = new KeyvThreadKv(name);
    ab.namespace = 'a:b';
    await a.set('a:b:x', 'A');
    await ab.set('a:b:x', 'AB');
    const seen = async (adapter: KeyvThreadKv, ns: string): Promise<unknown[]> => {
      const out: unknown[] = [];
      for await (const entry of adapter.iterator(ns)) out.push(entry);
      return out;
    };
    assert.deepEqual(await seen(a, 'a'), [['a:b:x', 'A']]);
    assert.deepEqual(await seen(ab, 'a:b'), [['a:b:x', 'AB']]);
  });
});
