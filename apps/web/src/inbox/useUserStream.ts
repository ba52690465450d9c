import { useQueryClient, type InfiniteData } from '@tanstack/react-query';
import { useEffect } from 'react';
import type { components, paths } from '@stepwise/client';
import { inboxKey, withoutInteraction } from './queries';
import { runsKey } from '../runs/queries';

type InboxPage = components['schemas']['InboxPage'];

/**
 * The events of `GET /v1/me/stream`, as the contract lists them (`event:` and the JSON string in
 * `data:`). They come from the gateway's services/gateway/src/runs/user-stream.ts, whose names are
 * `userStreamEventNames` in packages/shared/src/inbox-api.ts.
 */
type UserStreamEvent =
  paths['/v1/me/stream']['get']['responses'][200]['content']['text/event-stream'];
type UserStreamEventName = UserStreamEvent['event'];

/**
 * The app's one list of the stream's event names. A record over the contract's names, so a name
 * the contract adds or drops fails the type check here.
 */
const listened: Record<UserStreamEventName, true> = {
  'interaction.requested': true,
  'interaction.answered': true,
  'run.status': true,
};
const userStreamEventNames = Object.keys(listened) as UserStreamEventName[];

/**
 * The parsed `data:` of `interaction.answered` and `run.status`. The contract gives their schemas
 * only inline (as the `contentSchema` of a string `data`), not as named components, so the
 * generated types see a string: these follow that inline schema (InboxInteractionAnswered and
 * InboxRunStatus in packages/shared/src/inbox-api.ts).
 */
interface InboxAnswered {
  workflow_run_id: string;
  interaction_id: string;
  seq: number;
  answered_at: string;
}
interface InboxRunStatus {
  workflow_run_id: string;
  workflow_template_name: string;
  project_name: string;
  status: components['schemas']['Run']['status'];
  pending_interaction_id: string | null;
  last_seq: number;
  updated_at: string;
}

/** Bursts of events (a run asking right after an answer) refetch once, after this pause. */
const REFETCH_DEBOUNCE_MS = 150;

function parse(data: unknown): unknown {
  if (typeof data !== 'string') return null;
  try {
    return JSON.parse(data) as unknown;
  } catch {
    return null;
  }
}

function isAnswered(value: unknown): value is InboxAnswered {
  if (typeof value !== 'object' || value === null) return false;
  const { workflow_run_id, interaction_id } = value as Record<string, unknown>;
  return typeof workflow_run_id === 'string' && typeof interaction_id === 'string';
}

function isRunStatus(value: unknown): value is InboxRunStatus {
  if (typeof value !== 'object' || value === null) return false;
  const { workflow_run_id, pending_interaction_id } = value as Record<string, unknown>;
  return (
    typeof workflow_run_id === 'string' &&
    (pending_interaction_id === null || typeof pending_interaction_id === 'string')
  );
}

/**
 * Keeps the inbox live while the person is signed in: the per-user stream (`GET /v1/me/stream`)
 * announces questions asked and answered and run status changes. An answered question leaves the
 * cached list at once; every event then refetches the inbox, so the list, its order and its total
 * are the server's. EventSource sends the cookie (same origin) and, after a drop, reconnects with
 * Last-Event-ID by itself; on reopening, the inbox is refetched too, in case events were missed.
 */
export function useUserStream(enabled: boolean): void {
  const client = useQueryClient();
  useEffect(() => {
    if (!enabled || typeof EventSource === 'undefined') return;
    const source = new EventSource('/v1/me/stream');
    let timer: ReturnType<typeof setTimeout> | undefined;
    const refetch = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        void client.invalidateQueries({ queryKey: inboxKey });
        // The Runs page's lists show statuses and positions: read again too (when shown).
        void client.invalidateQueries({ queryKey: runsKey });
      }, REFETCH_DEBOUNCE_MS);
    };
    const drop = (runId: string, keep: (interactionId: string) => boolean) => {
      client.setQueriesData<InfiniteData<InboxPage, string | null>>(
        { queryKey: inboxKey },
        (data) => withoutInteraction(data, runId, keep),
      );
    };
    const onMessage = (event: MessageEvent) => {
      const data = parse(event.data);
      if (
        event.type === ('interaction.answered' satisfies UserStreamEventName) &&
        isAnswered(data)
      ) {
        drop(data.workflow_run_id, (id) => id !== data.interaction_id);
      } else if (event.type === ('run.status' satisfies UserStreamEventName) && isRunStatus(data)) {
        // Any other interaction of this run has left the inbox (answered, cancelled, branched).
        drop(data.workflow_run_id, (id) => id === data.pending_interaction_id);
      }
      refetch();
    };
    for (const name of userStreamEventNames) source.addEventListener(name, onMessage);
    // A reconnect may follow a gap longer than the stream replays: read the list again (not on
    // the first opening: the page has just read it).
    let opened = false;
    source.addEventListener('open', () => {
      if (opened) refetch();
      opened = true;
    });
    return () => {
      clearTimeout(timer);
      source.close();
    };
  }, [client, enabled]);
}
