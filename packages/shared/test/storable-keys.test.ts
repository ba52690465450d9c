import { describe, expect, it } from 'vitest';
import { findUnstorableKey, unstorableKeyReason } from '../src/storable-keys.js';

describe('keys that cannot be stored', () => {
  it('refuses NUL and the reserved names, wherever they are', () => {
    expect(findUnstorableKey(JSON.parse('{"a":{"b\\u0000c":1}}'), 'body')).toEqual({
      path: 'body.a["b\\0c"]',
      message: 'a key may not contain the NUL character',
    });
    for (const reserved of ['__proto__', 'constructor', 'prototype']) {
      // JSON.parse makes `__proto__` an own key, as express's parser does.
      const value: unknown = JSON.parse(`{"list":[{"ok":1},{"${reserved}":{"x":1}}]}`);
      expect(findUnstorableKey(value, 'body')).toEqual({
        path: `body.list[1].${reserved}`,
        message: `'${reserved}' is a reserved key`,
      });
    }
  });

  it('accepts $-prefixed and dotted keys, and every other value', () => {
    const value = { $defs: { a: 1 }, 'a.b': { 'c.d': [{ $x: null }] }, s: 'x\u0000y', n: 1 };
    expect(findUnstorableKey(value, 'body')).toBeNull();
    expect(findUnstorableKey('plain', 'body')).toBeNull();
    expect(unstorableKeyReason('$ref')).toBeNull();
  });

  it('walks deep and self-containing values without overflowing or looping', () => {
    let deep: Record<string, unknown> = { 'bad\u0000': 1 };
    for (let i = 0; i < 100_000; i++) deep = { d: deep };
    expect(findUnstorableKey(deep, 'v')?.message).toBe('a key may not contain the NUL character');
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic['self'] = cyclic;
    expect(findUnstorableKey(cyclic, 'v')).toBeNull();
  });
});
