import { findUnstorableKey } from '@stepwise/shared';

/** A failure of one module, as recorded in `module_failed` and, finally, on the run. */
export class ModuleFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
    /** False for failures another attempt cannot fix (a template error, a refused destination). */
    readonly retryable: boolean,
  ) {
    super(message);
  }
}

/**
 * Any thrown value as a ModuleFailure. Plugins cannot import this class; an error of theirs that
 * carries a string `code` and a boolean `retryable` is taken at its word.
 */
export function toModuleFailure(error: unknown): ModuleFailure {
  if (error instanceof ModuleFailure) return error;
  const candidate = error as { code?: unknown; retryable?: unknown; message?: unknown } | null;
  if (candidate && typeof candidate.code === 'string' && typeof candidate.retryable === 'boolean') {
    return new ModuleFailure(
      candidate.code,
      String(candidate.message ?? candidate.code),
      candidate.retryable,
    );
  }
  return new ModuleFailure(
    'MODULE_ERROR',
    error instanceof Error ? error.message : String(error),
    true,
  );
}

/**
 * Deepest a module's result may nest. MongoDB refuses documents nested deeper than 100 levels, and
 * a result is stored about five levels down (the run's outbox, an event, its data, `outputs`), so a
 * deeper one would fail every commit that records it. The bound also ends the walk over a result
 * that contains itself (a plugin's bug), which no walk over keys alone would.
 */
export const MAX_RESULT_DEPTH = 64;

function nestsDeeperThan(value: unknown, limit: number): boolean {
  // Iterative, so a deep value cannot overflow the stack; the root object is level 1.
  const pending: { value: unknown; level: number }[] = [{ value, level: 1 }];
  for (let next = pending.pop(); next; next = pending.pop()) {
    const current = next.value;
    if (typeof current !== 'object' || current === null) continue;
    if (next.level > limit) return true;
    for (const item of Object.values(current)) pending.push({ value: item, level: next.level + 1 });
  }
  return false;
}

/**
 * Fails with `failure.code` when `value` (a module's result: an answer from outside, a model's
 * output, a plugin's result) cannot be stored as it is: it holds a key that cannot be stored
 * (storable-keys.ts), or nests too deep. Such a value would make the commit that records it fail
 * again on every try and stall the run; refused here, it becomes an ordinary module failure whose
 * message names the key's path under `root`.
 */
export function refuseUnstorable(
  value: unknown,
  root: string,
  failure: { code: string; subject: string; retryable: boolean },
): void {
  if (nestsDeeperThan(value, MAX_RESULT_DEPTH))
    throw new ModuleFailure(
      failure.code,
      `${failure.subject} nests deeper than ${MAX_RESULT_DEPTH} levels, which cannot be stored`,
      failure.retryable,
    );
  const found = findUnstorableKey(value, root);
  if (found)
    throw new ModuleFailure(
      failure.code,
      `${failure.subject} has a key that cannot be stored, at ${found.path}: ${found.message}`,
      failure.retryable,
    );
}
