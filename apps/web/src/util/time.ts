const units: [Intl.RelativeTimeFormatUnit, number][] = [
  ['day', 86_400_000],
  ['hour', 3_600_000],
  ['minute', 60_000],
];

/** How long ago `iso` was, in words ("3 minutes", "2 days"); "moments" under a minute. */
export function waitedFor(iso: string, now: number): string {
  const elapsed = Math.max(0, now - Date.parse(iso));
  for (const [unit, ms] of units) {
    if (elapsed >= ms) {
      const count = Math.floor(elapsed / ms);
      return `${count} ${unit}${count === 1 ? '' : 's'}`;
    }
  }
  return 'moments';
}

/** A date and time in the reader's locale, for titles and `<time>` labels. */
export function formatDateTime(iso: string): string {
  return new Date(iso).toLocaleString();
}
