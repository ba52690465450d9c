import { z } from 'zod';

export const eventTypes = [
  'run_created',
  'step_started',
  'step_completed',
  'module_started',
  'module_completed',
  'module_skipped',
  'module_failed',
  'interaction_requested',
  'interaction_responded',
  'retry_requested',
  'branch_created',
  'version_switched',
  'run_resumed',
  'run_completed',
  'run_failed',
  'run_cancelled',
] as const;

export const eventTypeSchema = z.enum(eventTypes);
export type EventType = z.infer<typeof eventTypeSchema>;

/** An event as the engine decides it, before it gets its id, seq, run, branch and version. */
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
