import type { components } from '@stepwise/client';

type RunStatus = components['schemas']['Run']['status'];

/** Completed and cancelled runs are final: nothing but a branch from the past moves them. */
export function isFinal(status: RunStatus): boolean {
  return status === 'completed' || status === 'cancelled';
}

/*
 * Formatters made once: `toLocaleString` with options builds a formatter on every call, which a
 * timeline of a hundred entries (two times each) feels (tens of milliseconds per render).
 */
const timeFormat = new Intl.DateTimeFormat(undefined, {
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
});
const dayFormat = new Intl.DateTimeFormat(undefined, {
  day: 'numeric',
  month: 'short',
  year: 'numeric',
});
/** The same fields as `Date.prototype.toLocaleString()` gives by default. */
const fullFormat = new Intl.DateTimeFormat(undefined, {
  year: 'numeric',
  month: 'numeric',
  day: 'numeric',
  hour: 'numeric',
  minute: 'numeric',
  second: 'numeric',
});

/** "10:32:05" today, else "3 May 2026, 10:32:05": when an event happened, as a timeline reads. */
export function clockTime(iso: string, now = new Date()): string {
  const date = new Date(iso);
  const time = timeFormat.format(date);
  if (date.toDateString() === now.toDateString()) return time;
  return `${dayFormat.format(date)}, ${time}`;
}

/** The full date and time, for a `<time>`'s title. */
export function fullTime(iso: string): string {
  return fullFormat.format(new Date(iso));
}

export function formatCount(value: number): string {
  return value.toLocaleString();
}

/** A cost as the server's price table gives it (no currency is recorded): up to 6 decimals. */
export function formatCost(value: number): string {
  return value.toLocaleString(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 6 });
}
