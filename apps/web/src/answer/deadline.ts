import type { PendingInteraction } from '../api/requests';

/** A waiting question's deadline (`pending_interaction.deadline`), when its module declares one. */
export type Deadline = NonNullable<PendingInteraction['deadline']>;
export type OnTimeout = Deadline['on_timeout'];

const units: [string, number][] = [
  ['day', 86_400_000],
  ['hour', 3_600_000],
  ['minute', 60_000],
  ['second', 1_000],
];

/** An interval in the largest unit that states it exactly: "1 hour", "90 minutes", "2 days". */
export function intervalText(ms: number): string {
  for (const [unit, size] of units) {
    if (ms >= size && ms % size === 0) {
      const count = ms / size;
      return `${count} ${unit}${count === 1 ? '' : 's'}`;
    }
  }
  const seconds = Math.max(1, Math.round(ms / 1_000));
  return `${seconds} second${seconds === 1 ? '' : 's'}`;
}

/** What happens when nobody answers in time, as the end of "If nobody answers by then, …". */
export function consequenceText(deadline: Deadline): string {
  switch (deadline.on_timeout) {
    case 'fail':
      return 'this step fails, and the run with it';
    case 'default':
      return 'the default answer is given';
    case 'remind':
      return deadline.remind_every_ms !== undefined
        ? `a reminder is sent, then every ${intervalText(deadline.remind_every_ms)} until someone answers`
        : 'a reminder is sent, again and again until someone answers';
  }
}

/** The same, in a few words, for a list row ("else it fails"). */
export function shortConsequence(onTimeout: OnTimeout): string {
  switch (onTimeout) {
    case 'fail':
      return 'else it fails';
    case 'default':
      return 'else the default answer is given';
    case 'remind':
      return 'else a reminder is sent';
  }
}

/** "2 reminders sent so far", or null before the first. */
export function remindersText(deadline: Deadline): string | null {
  const sent = deadline.reminders_sent ?? 0;
  if (sent === 0) return null;
  return `${sent} reminder${sent === 1 ? '' : 's'} sent so far.`;
}
