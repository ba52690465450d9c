/**
 * Stepwise's naming rules (workflow-format.md): workflow_id, step_id and module names are slugs;
 * state keys are identifiers. Originals mostly satisfy them already; a name that does not is
 * renamed deterministically (the same original name always gives the same new name).
 */

export const SLUG_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/;
export const STATE_KEY_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
export const OUTPUT_PATH_PATTERN = /^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$/;
/** Names that would let a state write reach an object's prototype (definition.ts refuses them). */
const RESERVED_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

export function isSlug(name: string): boolean {
  return SLUG_PATTERN.test(name);
}

export function isStateKey(key: string): boolean {
  return STATE_KEY_PATTERN.test(key) && !RESERVED_KEYS.has(key);
}

export function isOutputPath(path: string): boolean {
  return (
    OUTPUT_PATH_PATTERN.test(path) && path.split('.').every((part) => !RESERVED_KEYS.has(part))
  );
}

/** Lower-cased, every run of other characters made one `_`, trimmed to 64 characters. */
export function toSlug(name: string, fallback: string): string {
  const slug = name
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '_')
    .replace(/^[_-]+/, '')
    .slice(0, 64)
    .replace(/[_-]+$/, '');
  return slug === '' ? fallback : slug;
}

/**
 * Hands out unique slugs within one scope (step ids in a workflow, module names in a step): a
 * clash gets `_2`, `_3`, … in order of appearance.
 */
export class SlugScope {
  private readonly taken = new Set<string>();

  claim(wanted: string): string {
    let candidate = wanted;
    for (let n = 2; this.taken.has(candidate); n += 1) {
      const suffix = `_${n}`;
      candidate = `${wanted.slice(0, 64 - suffix.length)}${suffix}`;
    }
    this.taken.add(candidate);
    return candidate;
  }
}
