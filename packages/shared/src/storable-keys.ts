import type { ErrorDetail } from './errors.js';

/**
 * Which object keys a stored value may carry (api.md, "Contract decisions added later").
 *
 * A key with a NUL character cannot be stored by MongoDB at all: the write fails, and a command or
 * event holding it would stall its run. `__proto__`, `constructor` and `prototype` would be
 * dropped or turned into prototype changes by JavaScript objects on the way, so they could not be
 * read back as sent. Both are refused, never silently altered. Keys starting with `$` or holding a
 * `.` are fine: they are stored as they are and read back exactly.
 *
 * The same rule applies at every door: request bodies (the gateway), workflow uploads (the
 * resolver) and data from outside (an `api.fetch` answer, an LLM output, in the runner).
 */
export const RESERVED_KEYS: ReadonlySet<string> = new Set([
  '__proto__',
  'constructor',
  'prototype',
]);

/** Why `key` cannot be stored, or null when it can. */
export function unstorableKeyReason(key: string): string | null {
  if (key.includes('\u0000')) return 'a key may not contain the NUL character';
  if (RESERVED_KEYS.has(key)) return `'${key}' is a reserved key`;
  return null;
}

/** A readable path segment for `key` (dotted when it is a plain name, bracketed otherwise). */
function pathSegment(parent: string, key: string | number): string {
  if (typeof key === 'number') return `${parent}[${key}]`;
  if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) return parent === '' ? key : `${parent}.${key}`;
  return `${parent}[${JSON.stringify(key).replace(/\\u0000/g, '\\0')}]`;
}

/**
 * The first key in `value` (objects nested in objects and arrays, searched iteratively so depth
 * cannot overflow the stack) that cannot be stored, as an error detail under `root`; null if none.
 */
export function findUnstorableKey(value: unknown, root: string): ErrorDetail | null {
  const pending: { value: unknown; path: string }[] = [{ value, path: root }];
  // A value built in code (a plugin's result) may contain itself; parsed JSON never does.
  const visited = new WeakSet<object>();
  for (let next = pending.pop(); next; next = pending.pop()) {
    const current = next.value;
    if (typeof current !== 'object' || current === null || visited.has(current)) continue;
    visited.add(current);
    if (Array.isArray(current)) {
      current.forEach((item, index) =>
        pending.push({ value: item, path: pathSegment(next.path, index) }),
      );
      continue;
    }
    // Own keys, `__proto__` included: JSON.parse creates it as an ordinary own property.
    for (const key of Object.keys(current)) {
      const path = pathSegment(next.path, key);
      const reason = unstorableKeyReason(key);
      if (reason !== null) return { path, message: reason };
      pending.push({ value: (current as Record<string, unknown>)[key], path });
    }
  }
  return null;
}
