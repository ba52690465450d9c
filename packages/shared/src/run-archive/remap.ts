/**
 * Renaming ids throughout a run's documents. Ids turn up in many places besides their own field:
 * event data (a branch's parent and fork point, the artifacts a module saved), state written from
 * outputs (an artifact id kept under any key), the snapshot, idempotency keys built from the run id
 * (`<run id>:<seq>`). Rather than list the places (and miss the next one), every string is
 * rewritten wherever it holds an id being renamed, whole or as part. Ids are long, prefixed and
 * random, so no other text contains one by accident.
 */

function escapeForPattern(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export class IdRenamer {
  private readonly pattern: RegExp | null;

  /** `renames`: old id → new id, for the ids that change (kept ids need not be listed). */
  constructor(private readonly renames: ReadonlyMap<string, string>) {
    const changed = [...renames].filter(([from, to]) => from !== to).map(([from]) => from);
    // Longest first, so an id that is a prefix of another never wins over it; the guards keep a
    // match from starting or ending inside a longer token.
    changed.sort((a, b) => b.length - a.length);
    this.pattern =
      changed.length === 0
        ? null
        : new RegExp(
            `(?<![0-9A-Za-z_])(?:${changed.map(escapeForPattern).join('|')})(?![0-9A-Za-z_-])`,
            'g',
          );
  }

  text(value: string): string {
    if (!this.pattern) return value;
    return value.replace(this.pattern, (found) => this.renames.get(found) ?? found);
  }

  /** A deep copy of `value` with every id renamed, in strings and in object keys alike. */
  value<T>(value: T): T {
    return this.walk(value) as T;
  }

  private walk(value: unknown): unknown {
    if (typeof value === 'string') return this.text(value);
    if (Array.isArray(value)) return value.map((item) => this.walk(item));
    if (value instanceof Date) return new Date(value.getTime());
    if (typeof value !== 'object' || value === null) return value;
    const copy: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) copy[this.text(key)] = this.walk(item);
    return copy;
  }
}
