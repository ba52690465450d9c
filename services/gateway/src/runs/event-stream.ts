import type { Request, Response } from 'express';
import type { EventRecord } from '@stepwise/shared';
import type { Models } from '@stepwise/shared/node';
import { ChangeSignal, type RunNotifications } from './run-notifications.js';
import { eventView } from './run-views.js';

const PAGE = 500;

export interface EventStreamOptions {
  models: Models;
  notifications: RunNotifications;
  heartbeatMs: number;
  /** Fires when the gateway shuts down; open streams end so that it can. */
  shutdown: AbortSignal;
}

function startAfter(req: Request, afterSeq: number | undefined): number {
  const header = req.get('last-event-id');
  const fromHeader =
    header !== undefined && /^\d{1,15}$/.test(header.trim()) ? Number(header.trim()) : undefined;
  return fromHeader ?? afterSeq ?? 0;
}

/**
 * Streams a run's log as Server-Sent Events, in `seq` order, from just after `Last-Event-ID` (or
 * `after_seq`). Every event is read from MongoDB; Redis announcements only wake the reader, and a
 * heartbeat comment (also a re-read) goes out when nothing happens. So a reconnecting client gets
 * each event exactly once, whatever was announced while it was away.
 */
export async function streamRunEvents(
  req: Request,
  res: Response,
  runId: string,
  afterSeq: number | undefined,
  options: EventStreamOptions,
): Promise<void> {
  let after = startAfter(req, afterSeq);
  res.writeHead(200, {
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-cache, no-transform',
    Connection: 'keep-alive',
    'X-Accel-Buffering': 'no',
  });
  res.write(': stream open\n\n');

  const closed = new AbortController();
  const onClose = () => closed.abort();
  req.on('close', onClose);
  options.shutdown.addEventListener('abort', onClose, { once: true });
  const signal = new ChangeSignal();
  const unsubscribe = options.notifications.subscribe(runId, signal.notify);
  try {
    while (!closed.signal.aborted) {
      const events = await options.models.events
        .find({ workflow_run_id: runId, seq: { $gt: after } })
        .sort({ seq: 1 })
        .limit(PAGE)
        .lean<EventRecord[]>();
      for (const event of events) {
        res.write(
          `id: ${event.seq}\nevent: ${event.event_type}\ndata: ${JSON.stringify(eventView(event))}\n\n`,
        );
        after = event.seq;
      }
      if (events.length === PAGE) continue;
      const changed = await signal.wait(options.heartbeatMs, closed.signal);
      if (!changed && !closed.signal.aborted) res.write(': heartbeat\n\n');
    }
  } finally {
    unsubscribe();
    req.off('close', onClose);
    options.shutdown.removeEventListener('abort', onClose);
    res.end();
  }
}
