// What the stub endpoints share: JSON bodies in and out, errors that carry their HTTP status, and
// the bounded stores that keep the stubs' memory flat however long they run.

const MAX_BODY_BYTES = 1024 * 1024;
/** Idempotency keys counted (the oldest are forgotten first). */
const MAX_KEYS = 10_000;
const MAX_RECENT = 100;

/** Sets a key in a Map used as a bounded, oldest-first store. */
export function boundedSet(map, key, value, limit) {
  map.delete(key);
  map.set(key, value);
  while (map.size > limit) map.delete(map.keys().next().value);
}

export function pushRecent(list, entry) {
  list.push(entry);
  if (list.length > MAX_RECENT) list.splice(0, list.length - MAX_RECENT);
}

export function countKey(map, key) {
  if (key === null) return;
  boundedSet(map, key, (map.get(key) ?? 0) + 1, MAX_KEYS);
}

export class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export async function readJson(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, `the body is over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(400, 'the body is not JSON');
  }
}

export const headerValue = (value) => (Array.isArray(value) ? (value[0] ?? null) : (value ?? null));

export function sendJson(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}

export const errorBody = (message, type = 'invalid_request_error') => ({
  error: { message, type },
});
