import type { components } from '@stepwise/client';
import { useQueryClient } from '@tanstack/react-query';
import { useEffect, useRef, useState } from 'react';
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
  interaction_timed_out: true,
  reminder_sent: true,
  retry_requested: true,
  branch_created: true,
  version_switched: true,
  run_resumed: true,
  run_completed: true,
  run_failed: true,
  run_cancelled: true,
  legacy_event: true,
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
 * Null `afterSeq`: not yet (the timeline it continues is still loading). `finalSeq`: the run is
 * completed or cancelled (nothing but a new branch moves it) and this is its last event: no
 * stream is opened past it, and an open one is closed once it has brought it (not before: the
 * command that ended the run may answer before the stream brings its events).
 * Returns whether the stream stopped for good (the browser gave up reconnecting: the session
 * ended, the run is gone), which the page says.
 */
export function useRunStream(
  runId: string,
  afterSeq: number | null,
  finalSeq: number | null,
): boolean {
  const client = useQueryClient();
  const [stopped, setStopped] = useState(false);
  // The newest event received, for the page (is the run's last event in?) and for a stream
  // opened again (the run moves again), which resumes after it.
  const [receivedSeq, setReceivedSeq] = useState<number | null>(null);
  const received = useRef<number | null>(null);
  const caughtUp =
    finalSeq !== null &&
    afterSeq !== null &&
    Math.max(afterSeq, receivedSeq ?? afterSeq) >= finalSeq;
  useEffect(() => {
    if (afterSeq === null || caughtUp || typeof EventSource === 'undefined') return;
    const from = Math.max(afterSeq, received.current ?? afterSeq);
    const source = new EventSource(
      `/v1/runs/${encodeURIComponent(runId)}/stream?after_seq=${from}`,
    );
    let timer: ReturnType<typeof setTimeout> | undefined;
    const readAgain = () => {
      timer = undefined;
      for (const queryKey of [
        runKey(runId),
        branchesKey(runId),
        artifactsKey(runId),
        usageKey(runId),
      ])
        void client.invalidateQueries({ queryKey, exact: true });
    };
    const refresh = () => {
      clearTimeout(timer);
      timer = setTimeout(readAgain, REFRESH_DEBOUNCE_MS);
    };
    const onEvent = (message: MessageEvent) => {
      const event = eventOf(message.data);
      if (event) {
        appendEvent(client, runId, event);
        received.current = Math.max(received.current ?? event.seq, event.seq);
        setReceivedSeq(received.current);
      }
      refresh();
    };
    for (const type of eventTypes) source.addEventListener(type, onEvent);
    let opened = false;
    source.addEventListener('open', () => {
      if (opened) refresh();
      opened = true;
    });
    // While CONNECTING the browser retries by itself; CLOSED means it gave up (an answer that is
    // not a stream: signed out, no such run), and only a reload starts again.
    source.addEventListener('error', () => {
      if (source.readyState === EventSource.CLOSED) setStopped(true);
    });
    return () => {
      // The last burst (the run's final events) is still read again, now.
      if (timer !== undefined) {
        clearTimeout(timer);
        readAgain();
      }
      source.close();
      // A stream opened again later starts afresh; one that stopped because the run became
      // final has nothing more to tell.
      setStopped(false);
    };
  }, [client, runId, afterSeq, caughtUp]);
  return stopped;
}
