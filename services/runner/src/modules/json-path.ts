import { JSONPath } from 'jsonpath-plus';

/**
 * Reading a provider's answer where a workflow says (a job's id, its status, its files): JSONPath,
 * with script evaluation off, since a workflow's path must never run code.
 */

export function select(path: string, json: unknown): unknown[] {
  if (json === null || typeof json !== 'object') return [];
  const found: unknown = JSONPath({ path, json, wrap: true, eval: false });
  return Array.isArray(found) ? found : [];
}

export function selectOne(path: string, json: unknown): unknown {
  return select(path, json)[0];
}

/** A scalar as text (a numeric job id, a status), or null for anything else. */
export function asText(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return null;
}
