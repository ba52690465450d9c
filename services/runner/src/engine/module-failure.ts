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
