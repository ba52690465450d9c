import { z } from 'zod';

/**
 * The run log's vocabulary. The data each type carries is typed in `./event-data.ts`; this file
 * stays free of imports so that `records.ts` can use the enum without a cycle.
 */
export const eventTypes = [
  'run_created',
  'step_started',
  'step_completed',
  'module_started',
  'module_completed',
  'module_skipped',
  'module_failed',
  /**
   * A recovering drain found a `module_started` with no end and runs that same attempt again
   * (same attempt number, same idempotency key) without a new `module_started`.
   */
  'module_interrupted',
  /**
   * An outside job (`api.job`) was submitted and answered with its id: from here on the attempt
   * polls that job and never submits again (effects.md, rule 8).
   */
  'job_submitted',
  /** The job's status changed (a poll that finds the same status records nothing). */
  'job_polled',
  /** The job succeeded and its result files were stored; `module_completed` follows. */
  'job_completed',
  /** The job failed, timed out or its results were refused; `module_failed` follows. */
  'job_failed',
  'interaction_requested',
  'interaction_responded',
  /**
   * A question's deadline passed with no answer (people.md, "Notifications and deadlines"): with
   * `fail` a `module_failed` follows, with `default` the default answer's `interaction_responded`.
   */
  'interaction_timed_out',
  /** A question's deadline passed with `on_timeout: remind`: its owner was notified again. */
  'reminder_sent',
  'retry_requested',
  'branch_created',
  'version_switched',
  'run_resumed',
  'run_completed',
  'run_failed',
  'run_cancelled',
  /**
   * An event of the original system kept as it was (legacy.md, "What real installations hold"): a
   * type with no equivalent here (a jump's marker, a recovery, a sub-action). It moves nothing but
   * the state writes the original folded from it (`state_changes`).
   */
  'legacy_event',
] as const;

export const eventTypeSchema = z.enum(eventTypes);
export type EventType = z.infer<typeof eventTypeSchema>;

/**
 * An event as the engine decides it, before it gets its id, seq, run, branch and version. `data`
 * stays an open record here (old logs hold what they hold); `RunEvent` in `./event-data.ts` is the
 * typed view of the same shape.
 */
export interface DecidedEvent {
  event_type: EventType;
  step_id: string | null;
  module_name: string | null;
  data: Record<string, unknown>;
}

/** What the reducer reads of an event: the decided part plus its place in the log. */
export interface FoldableEvent extends DecidedEvent {
  seq: number;
}
