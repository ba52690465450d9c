import canonicalize from 'canonicalize';

/** RFC 8785 (JSON Canonicalization Scheme): sorted keys, no insignificant whitespace. */
export function canonicalJson(value: unknown): string {
  const text = canonicalize(value);
  if (text === undefined) throw new TypeError('value has no JSON representation');
  return text;
}
