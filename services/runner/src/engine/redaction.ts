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

/** Secret values shorter than this are not scrubbed: replacing every "ab" would garble a record. */
const MIN_SCRUBBED_LENGTH = 4;

/**
 * `value` with every occurrence of each secret value (the credentials a module was given, the
 * deployment's key) replaced by `[redacted]`, in every string at any depth: a provider that
 * echoes the key in an error body, or a module that returns it, cannot carry it into the log.
 */
export function scrubSecretValues<T>(value: T, secrets: readonly string[]): T {
  const needles = [...new Set(secrets)]
    .filter((secret) => secret.length >= MIN_SCRUBBED_LENGTH)
    // Longest first, so a secret that contains another is replaced whole.
    .sort((a, b) => b.length - a.length);
  if (needles.length === 0) return value;
  const scrub = (item: unknown, depth: number): unknown => {
    if (typeof item === 'string')
      return needles.reduce((text, needle) => text.split(needle).join('[redacted]'), item);
    if (depth > 64 || typeof item !== 'object' || item === null) return item;
    if (Array.isArray(item)) return item.map((entry) => scrub(entry, depth + 1));
    // Only plain objects are rebuilt; anything else (a Date, a Buffer) is left as it is.
    if (Object.getPrototypeOf(item) !== Object.prototype && Object.getPrototypeOf(item) !== null)
      return item;
    return Object.fromEntries(
      Object.entries(item).map(([key, entry]) => [
        scrub(key, depth + 1) as string,
        scrub(entry, depth + 1),
      ]),
    );
  };
  return scrub(value, 0) as T;
}
