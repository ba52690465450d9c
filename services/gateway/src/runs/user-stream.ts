import type { Request, Response } from 'express';
import {
  eventDataOf,
  type EventRecord,
  type EventType,
  type InboxAnswered,
  type InboxItem,
  type InboxRunStatus,
  type UserStreamEventName,
  type WorkflowRunRecord,
} from '@stepwise/shared';
import type { Models } from '@stepwise/shared/node';
import { inboxItemOf } from './inbox.js';
import { ChangeSignal, type RunNotifications } from './run-notifications.js';

/**
 * The caller's own stream (`GET /v1/me/stream`): questions asked and answered and status changes
 * of all their runs, as Server-Sent Events.
 *
 * Where the per-run stream has a gap-free `seq` to resume from, a user's runs have no common
 * sequence. What every commit does carry is its time: the runner sets the run's `updated_at` and
 * the `timestamp` of each event it commits to the same clock reading. So the stream's position
 * (the SSE `id:`) is a time, in ms, meaning "every change committed at or before it has been
 * sent". A reconnect with `Last-Event-ID` reads the user's runs whose `updated_at` is later (an
 * index serves it) and, of each, the events committed later, straight from MongoDB: what happened
 * while the client was away arrives, whatever Redis announced meanwhile.
 *
 * A commit's time is taken before its write lands, so a commit can become visible after a later-
 * stamped one. The position therefore stays `VISIBILITY_MARGIN_MS` behind the moment of reading:
 * changes are sent as soon as they are seen, but the `id:` only claims the span that can no
 * longer receive late commits. Within one connection nothing is sent twice (each run's last sent
 * seq is kept); after a reconnect, changes of the last moments before the position may come again.
 * Every message names its run and interaction ids, so applying one twice changes nothing.
 */
const VISIBILITY_MARGIN_MS = 10_000;
/** Runs read per query; a pass pages on until it has seen every changed run. */
const RUN_PAGE = 100;
/** At most this many of a run's latest events are looked at; beyond, its current state is sent. */
const EVENT_WINDOW = 200;

/** Events after which the run's status may differ: each is followed by a `run.status`. */
const statusEvents: ReadonlySet<EventType> = new Set<EventType>([
  'run_created',
  'interaction_requested',
  'interaction_responded',
  'retry_requested',
  'branch_created',
  'version_switched',
  'run_resumed',
  'run_completed',
  'run_failed',
  'run_cancelled',
]);

export interface UserStreamOptions {
  models: Models;
  notifications: RunNotifications;
  heartbeatMs: number;
  /** Fires when the gateway shuts down; open streams end so that it can. */
  shutdown: AbortSignal;
}

type StreamRun = Pick<
  WorkflowRunRecord,
  | 'workflow_run_id'
  | 'workflow_template_name'
  | 'project_name'
  | 'current_version_id'
  | 'status'
  | 'pending_interaction'
  | 'last_seq'
  | 'updated_at'
> & {
  /** The last commit's events (absent on documents written before the outbox existed). */
  outbox?: EventRecord[];
};

type StreamEvent = Pick<
  EventRecord,
  'seq' | 'event_type' | 'step_id' | 'module_name' | 'data' | 'timestamp' | 'workflow_version_id'
>;

/** What this connection has sent of a run. */
interface Sent {
  seq: number;
  status: WorkflowRunRecord['status'];
  updatedAt: number;
}

type Message =
  | { event: 'interaction.requested'; data: InboxItem }
  | { event: 'interaction.answered'; data: InboxAnswered }
  | { event: 'run.status'; data: InboxRunStatus };

const runFields = {
  _id: 0,
  workflow_run_id: 1,
  workflow_template_name: 1,
  project_name: 1,
  current_version_id: 1,
  status: 1,
  pending_interaction: 1,
  last_seq: 1,
  updated_at: 1,
  outbox: 1,
} as const;

const eventFields = {
  _id: 0,
  seq: 1,
  event_type: 1,
  step_id: 1,
  module_name: 1,
  data: 1,
  timestamp: 1,
  workflow_version_id: 1,
} as const;

/** The position to resume from: `Last-Event-ID` when it is one of ours, else a moment ago. */
function startingPosition(req: Request, now: number): number {
  const header = req.get('last-event-id')?.trim();
  // Never later than now: a position from the future would hide what happens until then.
  if (header !== undefined && /^\d{1,15}$/.test(header)) return Math.min(Number(header), now);
  // A fresh connection starts a margin back, so a commit in flight while it opened is not lost.
  return now - VISIBILITY_MARGIN_MS;
}

function statusOf(run: StreamRun): Message {
  return {
    event: 'run.status',
    data: {
      workflow_run_id: run.workflow_run_id,
      workflow_template_name: run.workflow_template_name,
      project_name: run.project_name,
      status: run.status,
      pending_interaction_id: run.pending_interaction?.interaction_id ?? null,
      last_seq: run.last_seq,
      updated_at: run.updated_at.toISOString(),
    },
  };
}

function messageOf(run: StreamRun, event: StreamEvent): Message | null {
  const requested = eventDataOf(event, 'interaction_requested');
  if (requested) {
    return {
      event: 'interaction.requested',
      data: inboxItemOf({
        ...run,
        current_version_id: event.workflow_version_id,
        updated_at: event.timestamp,
        pending_interaction: {
          interaction_id: requested.interaction_id,
          module_id: requested.module_id,
          step_id: event.step_id ?? '',
          module_name: event.module_name ?? '',
          request: requested.request,
          ...(requested.deadline ? { deadline: requested.deadline } : {}),
        },
      }),
    };
  }
  const answered = eventDataOf(event, 'interaction_responded');
  if (answered) {
    return {
      event: 'interaction.answered',
      data: {
        workflow_run_id: run.workflow_run_id,
        interaction_id: answered.interaction_id,
        seq: event.seq,
        answered_at: event.timestamp.toISOString(),
      },
    };
  }
  return null;
}

/**
 * The run's events this connection has not sent, oldest first, or null when there are more than
 * the window holds. The last commit's events are in the run's outbox (its log write may still be
 * under way); everything before it is in the log, read backwards from there on the (run, seq)
 * index, so the work follows what is new, not the length of the run.
 */
async function newEvents(
  models: Models,
  run: StreamRun,
  isNew: (event: StreamEvent) => boolean,
  sentSeq: number | undefined,
): Promise<StreamEvent[] | null> {
  const outbox = (run.outbox ?? []).filter((event) => event.seq <= run.last_seq);
  const firstInOutbox = outbox[0]?.seq ?? run.last_seq + 1;
  const fresh = outbox.filter(isNew);
  // Nothing older can be new once an outbox event is not (events are sent in seq order), or when
  // this connection has sent everything before the outbox.
  if (
    firstInOutbox <= 1 ||
    fresh.length < outbox.length ||
    (sentSeq !== undefined && sentSeq >= firstInOutbox - 1)
  )
    return fresh;
  const older = await models.events
    .find({ workflow_run_id: run.workflow_run_id, seq: { $lt: firstInOutbox } })
    .select(eventFields)
    .sort({ seq: -1 })
    .limit(EVENT_WINDOW)
    .lean<StreamEvent[]>();
  const newer = older.filter(isNew);
  const oldest = older.at(-1);
  if (newer.length === EVENT_WINDOW && oldest && oldest.seq > 1) return null;
  return [...newer.reverse(), ...fresh];
}

/** What to send about a run that changed since `position`, given what was sent of it already. */
async function messagesFor(
  models: Models,
  run: StreamRun,
  sent: Sent | undefined,
  position: number,
): Promise<Message[]> {
  if (sent && sent.seq >= run.last_seq) return sent.status === run.status ? [] : [statusOf(run)];
  const isNew = (event: StreamEvent) =>
    sent ? event.seq > sent.seq : event.timestamp.getTime() > position;
  const events = await newEvents(models, run, isNew, sent?.seq);
  if (events === null) {
    // Too much happened to replay it: the run as it stands says all the inbox needs.
    const waiting =
      run.status === 'awaiting_input' && run.pending_interaction
        ? [
            {
              event: 'interaction.requested' as const,
              data: inboxItemOf({ ...run, pending_interaction: run.pending_interaction }),
            },
          ]
        : [];
    return [...waiting, statusOf(run)];
  }
  const messages = events.flatMap((event) => messageOf(run, event) ?? []);
  const statusMayHaveChanged =
    events.some((event) => statusEvents.has(event.event_type)) ||
    (sent !== undefined && sent.status !== run.status);
  return statusMayHaveChanged ? [...messages, statusOf(run)] : messages;
}

function write(res: Response, messages: readonly Message[], position: number): void {
  messages.forEach((message, index) => {
    // The id goes on a run's last message only: a client cut off in the middle of a run's
    // messages resumes from before that run and gets all of them again.
    const id = index === messages.length - 1 ? `id: ${position}\n` : '';
    const name: UserStreamEventName = message.event;
    res.write(`${id}event: ${name}\ndata: ${JSON.stringify(message.data)}\n\n`);
  });
}

export async function streamUserEvents(
  req: Request,
  res: Response,
  userId: string,
  options: UserStreamOptions,
): Promise<void> {
  let position = startingPosition(req, Date.now());
  res.writeHead(200, {
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-cache, no-transform',
    Connection: 'keep-alive',
    'X-Accel-Buffering': 'no',
  });
  // An id-only block: it sets the client's Last-Event-ID without dispatching an event.
  res.write(`id: ${position}\n: stream open\n\n`);

  const closed = new AbortController();
  const onClose = () => closed.abort();
  req.on('close', onClose);
  options.shutdown.addEventListener('abort', onClose, { once: true });
  const signal = new ChangeSignal();
  const unsubscribe = options.notifications.subscribeUser(userId, signal.notify);
  const sent = new Map<string, Sent>();
  try {
    while (!closed.signal.aborted) {
      const readAt = Date.now();
      const settled = readAt - VISIBILITY_MARGIN_MS;
      const from = position;
      let after: { time: Date; runId: string } | null = null;
      for (;;) {
        const runs: StreamRun[] = await options.models.runs
          .find({
            user_id: userId,
            ...(after
              ? {
                  $or: [
                    { updated_at: { $gt: after.time } },
                    { updated_at: after.time, workflow_run_id: { $gt: after.runId } },
                  ],
                }
              : { updated_at: { $gt: new Date(from) } }),
          })
          .select(runFields)
          .sort({ updated_at: 1, workflow_run_id: 1 })
          .limit(RUN_PAGE)
          .lean<StreamRun[]>();
        for (const run of runs) {
          if (closed.signal.aborted) return;
          const messages = await messagesFor(
            options.models,
            run,
            sent.get(run.workflow_run_id),
            from,
          );
          sent.set(run.workflow_run_id, {
            seq: run.last_seq,
            status: run.status,
            updatedAt: run.updated_at.getTime(),
          });
          // Runs are read in commit-time order, but another run may share this one's ms and
          // come next, hence the ms before it.
          position = Math.max(position, Math.min(run.updated_at.getTime() - 1, settled));
          write(res, messages, position);
        }
        const last = runs.at(-1);
        if (runs.length < RUN_PAGE || !last) break;
        after = { time: last.updated_at, runId: last.workflow_run_id };
      }
      // Every commit up to `settled` is visible by now, and all of them have been read.
      position = Math.max(position, settled);
      for (const [runId, run] of sent) if (run.updatedAt <= position) sent.delete(runId);
      const changed = await signal.wait(options.heartbeatMs, closed.signal);
      if (!changed && !closed.signal.aborted) res.write(`id: ${position}\n: heartbeat\n\n`);
    }
  } finally {
    unsubscribe();
    req.off('close', onClose);
    options.shutdown.removeEventListener('abort', onClose);
    res.end();
  }
}
