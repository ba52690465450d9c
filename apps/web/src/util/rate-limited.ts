/** What to tell a person who tried too often (429), from the answer's Retry-After. */
export function tooManyAttempts(retryAfterSeconds: number | null): string {
  if (retryAfterSeconds === null) return 'Too many failed attempts. Wait a while, then try again.';
  const minutes = Math.ceil(retryAfterSeconds / 60);
  return retryAfterSeconds < 60
    ? `Too many failed attempts. Try again in ${retryAfterSeconds} seconds.`
    : `Too many failed attempts. Try again in ${minutes} minute${minutes === 1 ? '' : 's'}.`;
}
