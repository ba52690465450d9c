import { ApiError } from '../api/client';

export function Loading({ label }: { label: string }) {
  return (
    <p className="status" role="status">
      <span className="spinner" aria-hidden="true" />
      {label}…
    </p>
  );
}

/** A message for an error, in words a person can act on. */
export function describeError(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.status === 0 || error.code === 'UNAVAILABLE')
      return 'The server is not reachable right now. Try again in a moment.';
    return error.message;
  }
  if (error instanceof TypeError) return 'The server could not be reached. Check your connection.';
  return error instanceof Error ? error.message : 'Something went wrong.';
}

export function ErrorNotice({ error, title }: { error: unknown; title?: string }) {
  return (
    <div className="notice notice-error" role="alert">
      {title !== undefined && <p className="notice-title">{title}</p>}
      <p>{describeError(error)}</p>
    </div>
  );
}
