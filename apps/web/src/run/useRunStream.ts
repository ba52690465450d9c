import { useQueryClient } from '@tanstack/react-query';
import { useEffect } from 'react';
import { runKey } from '../answer/useAnswer';
import { isRecord, type RunEvent } from './events';
import { appendEvent, artifactsKey, branchesKey, usageKey } from './queries';

/**
 * The stream's `event:` names are the events' types. EventSource hands a named event only to a
 * listener for that name, so the page listens to each type of the log. The contract gives
 * `event_type` as a string; these are `eventTypes` of packages/shared/src/runs/events.ts (a type
 * added there and missing here shows up in the timeline on the next load, not live).
 */
const eventTypes = [
  'run_created',
  'step_started',
  'step_completed',
  'module_started',
  'module_completed',
  'module_skipped',
  'module_failed',
  'module_interrupted',
  'job_submitted',
  'job_polled',
  'job_completed',
  'job_failed',
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

/** A burst of events (a module starting and completing) refreshes the run's queries once. */
const REFRESH_DEBOUNCE_MS = 200;

/** The `data:` of a stream message: the event as `GET /events` gives it. */
function eventOf(data: unknown): RunEvent | null {
  if (typeof data !== 'string') return null;
  let value: unknown;
  try {
    value = JSON.parse(data) as unknown;
  } catch {
    return null;
  }
  if (!isRecord(value)) return null;
  const { seq, event_id, branch_id, event_type, data: eventData } = value;
  return typeof seq === 'number' &&
    typeof event_id === 'string' &&
    typeof branch_id === 'string' &&
    typeof event_type === 'string' &&
    isRecord(eventData)
    ? // The fields read here are checked; the rest follows the contract's Event.
      (value as unknown as RunEvent)
    : null;
}

/**
 * Keeps the run page live: `GET /v1/runs/{id}/stream` (same origin, cookie) from just after
 * `afterSeq`. Each event joins its branch's timeline (if loaded), and the run, its branches,
 * artifacts and usage are read again. EventSource reconnects by itself with Last-Event-ID (the
 * stream resumes after the last event received); on a reconnect the queries are read again too.
 * Null `afterSeq`: not yet (the timeline it continues is still loading).
 */
export function useRunStream(runId: string, afterSeq: number | null): void {
  const client = useQueryClient();
  useEffect(() => {
    if (afterSeq === null || typeof EventSource === 'undefined') return;
    const source = new EventSource(
      `/v1/runs/${encodeURIComponent(runId)}/stream?after_seq=${afterSeq}`,
    );
    let timer: ReturnType<typeof setTimeout> | undefined;
    const refresh = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        for (const queryKey of [
          runKey(runId),
          branchesKey(runId),
          artifactsKey(runId),
          usageKey(runId),
        ])
          void client.invalidateQueries({ queryKey, exact: true });
      }, REFRESH_DEBOUNCE_MS);
    };
    const onEvent = (message: MessageEvent) => {
      const event = eventOf(message.data);
      if (event) appendEvent(client, runId, event);
      refresh();
    };
    for (const type of eventTypes) source.addEventListener(type, onEvent);
    let opened = false;
    source.addEventListener('open', () => {
      if (opened) refresh();
      opened = true;
    });
    return () => {
      clearTimeout(timer);
      source.close();
    };
  }, [client, runId, afterSeq]);
}
