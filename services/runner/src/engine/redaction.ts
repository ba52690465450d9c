/** Keys whose values are credentials: never written to an event or a log. */
const secretKey =
  /^(authorization|proxy-authorization|cookie|set-cookie|x-api-key|api[-_]?key|access[-_]?token|refresh[-_]?token|token|secret|client[-_]?secret|password|passwd)$/i;

/** Longest string kept whole in an event about inputs; longer ones are summarized. */
const MAX_RECORDED_STRING = 64 * 1024;

/**
 * A copy of a module's inputs fit for the log: credentials (by key, at any depth) replaced by
 * `[redacted]`, very long strings replaced by their length. The module itself gets the originals.
 */
export function redactForLog(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') {
    return value.length > MAX_RECORDED_STRING ? `[${value.length} characters not recorded]` : value;
  }
  if (depth > 32 || typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return value.map((item) => redactForLog(item, depth + 1));
  return Object.fromEntries(
    Object.entries(value).map(([key, item]) => [
      key,
      secretKey.test(key) ? '[redacted]' : redactForLog(item, depth + 1),
    ]),
  );
}
