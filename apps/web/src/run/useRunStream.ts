import type { components } from '@stepwise/client';
import { useQueryClient } from '@tanstack/react-query';
import { useEffect } from 'react';
import { runKey } from '../answer/useAnswer';
import { isRecord, type RunEvent } from './events';
import { appendEvent, artifactsKey, branchesKey, usageKey } from './queries';

/**
 * The stream's `event:` names are the events' types. EventSource hands a named event only to a
 * listener for that name, so the page listens to each type of the log: a record over the
 * contract's `event_type` enum, so a type the contract adds or drops fails the type check here.
 */
const listened: Record<components['schemas']['Event']['event_type'], true> = {
  run_created: true,
  step_started: true,
  step_completed: true,
  module_started: true,
  module_completed: true,
  module_skipped: true,
  module_failed: true,
  module_interrupted: true,
  job_submitted: true,
  job_polled: true,
  job_completed: true,
  job_failed: true,
  interaction_requested: true,
  interaction_responded: true,
  retry_requested: true,
  branch_created: true,
  version_switched: true,
  run_resumed: true,
  run_completed: true,
  run_failed: true,
  run_cancelled: true,
};
const eventTypes = Object.keys(listened);

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
