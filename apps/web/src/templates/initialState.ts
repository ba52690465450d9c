import type { FieldProblem } from '../api/client';

/*
 * The initial-state form of "Start a run": one entry per key of the workflow's declared
 * `initial_state` (its value as the default), plus keys the person adds. Each entry is edited as
 * what its value is (text, a number, yes/no, or JSON for anything else) and read back into the
 * `initial_state` of `POST /v1/runs`.
 */

export type ValueKind = 'text' | 'number' | 'boolean' | 'json';

export const valueKinds: readonly { kind: ValueKind; label: string }[] = [
  { kind: 'text', label: 'Text' },
  { kind: 'number', label: 'Number' },
  { kind: 'boolean', label: 'Yes/no' },
  { kind: 'json', label: 'JSON' },
];

export interface StateEntry {
  /** Stable across edits, for React keys and element ids. */
  id: number;
  key: string;
  kind: ValueKind;
  /** The typed text (text, number, JSON); unused for yes/no. */
  text: string;
  checked: boolean;
  /** Declared by the workflow (its key fixed), or added by the person. */
  declared: boolean;
}

let nextEntryId = 1;

export function kindOfValue(value: unknown): ValueKind {
  if (typeof value === 'string') return 'text';
  if (typeof value === 'number') return 'number';
  if (typeof value === 'boolean') return 'boolean';
  return 'json';
}

export function declaredEntry(key: string, value: unknown): StateEntry {
  const kind = kindOfValue(value);
  return {
    id: nextEntryId++,
    key,
    kind,
    text:
      kind === 'text'
        ? String(value)
        : kind === 'number'
          ? String(value)
          : kind === 'json'
            ? JSON.stringify(value, null, 2)
            : '',
    checked: value === true,
    declared: true,
  };
}

export function addedEntry(): StateEntry {
  return { id: nextEntryId++, key: '', kind: 'text', text: '', checked: false, declared: false };
}

/** The entries for a workflow's declared `initial_state` (none when it declares none). */
export function entriesFor(initialState: unknown): StateEntry[] {
  if (typeof initialState !== 'object' || initialState === null || Array.isArray(initialState))
    return [];
  return Object.entries(initialState).map(([key, value]) => declaredEntry(key, value));
}

/** The entry's value, or why it is not one. */
export function valueOf(
  entry: StateEntry,
): { ok: true; value: unknown } | { ok: false; message: string } {
  switch (entry.kind) {
    case 'text':
      return { ok: true, value: entry.text };
    case 'boolean':
      return { ok: true, value: entry.checked };
    case 'number': {
      const number = Number(entry.text);
      if (entry.text.trim() === '' || !Number.isFinite(number))
        return { ok: false, message: 'Enter a number.' };
      return { ok: true, value: number };
    }
    case 'json':
      try {
        return { ok: true, value: JSON.parse(entry.text) as unknown };
      } catch (error) {
        const reason = error instanceof Error ? error.message : 'it does not parse';
        return { ok: false, message: `This is not valid JSON: ${reason}` };
      }
  }
}

/** Why an added entry's key cannot be used, or null. */
function keyProblem(entry: StateEntry, seen: ReadonlySet<string>): string | null {
  if (entry.key.trim() === '') return 'Give the key a name.';
  if (entry.key !== entry.key.trim()) return 'A key may not start or end with a space.';
  if (seen.has(entry.key)) return `The key ${entry.key} is given twice.`;
  return null;
}

export interface EntryProblems {
  key?: string;
  value?: string;
}

/**
 * The `initial_state` object, or the problems by entry id. `Object.fromEntries` defines every
 * key as the object's own (even one the server will refuse), so the server's answer names it.
 */
export function buildInitialState(
  entries: readonly StateEntry[],
):
  | { ok: true; state: Record<string, unknown> }
  | { ok: false; problems: Map<number, EntryProblems> } {
  const problems = new Map<number, EntryProblems>();
  const seen = new Set<string>();
  const pairs: [string, unknown][] = [];
  for (const entry of entries) {
    const found: EntryProblems = {};
    if (!entry.declared) {
      const problem = keyProblem(entry, seen);
      if (problem !== null) found.key = problem;
    }
    seen.add(entry.key);
    const value = valueOf(entry);
    if (value.ok) pairs.push([entry.key, value.value]);
    else found.value = value.message;
    if (found.key !== undefined || found.value !== undefined) problems.set(entry.id, found);
  }
  if (problems.size > 0) return { ok: false, problems };
  return { ok: true, state: Object.fromEntries(pairs) };
}

/** A server path without the `body.` the gateway puts before a request body's fields. */
function inBody(path: string): string {
  return path.startsWith('body.') ? path.slice('body.'.length) : path;
}

/** The paths the gateway may give a state key: `initial_state.topic`, `initial_state["a b"]`. */
function keyPaths(key: string): string[] {
  return [`initial_state.${key}`, `initial_state[${JSON.stringify(key)}]`];
}

/** The server's messages about a field of the body (`project_name`), at it or inside it. */
export function serverMessagesAt(problems: readonly FieldProblem[], field: string): string[] {
  return problems
    .filter((problem) => {
      const path = inBody(problem.path);
      return path === field || path.startsWith(`${field}.`) || path.startsWith(`${field}[`);
    })
    .map((problem) => problem.message);
}

/**
 * The server's problems put on the entries they name: a problem with a key itself (a reserved
 * name) on an added entry's key, anything else under its value.
 */
export function serverEntryProblems(
  entries: readonly StateEntry[],
  problems: readonly FieldProblem[],
): Map<number, EntryProblems> {
  const placed = new Map<number, EntryProblems>();
  for (const entry of entries) {
    const found: EntryProblems = {};
    for (const problem of problems) {
      const path = inBody(problem.path);
      for (const prefix of keyPaths(entry.key)) {
        if (path === prefix && !entry.declared) found.key ??= problem.message;
        else if (path === prefix || path.startsWith(`${prefix}.`) || path.startsWith(`${prefix}[`))
          found.value ??= problem.message;
      }
    }
    if (found.key !== undefined || found.value !== undefined) placed.set(entry.id, found);
  }
  return placed;
}
