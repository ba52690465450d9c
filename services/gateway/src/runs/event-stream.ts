import type { Request, Response } from 'express';
import type { EventRecord, RunAnnouncement } from '@stepwise/shared';
import type { Models } from '@stepwise/shared/node';
import { ChangeSignal, type RunNotifications } from './run-notifications.js';
import { eventView } from './run-views.js';

const PAGE = 500;
/**
 * Announced events a stream keeps while it cannot send them yet (it is behind, or one is missing).
 * Past this it forgets them and reads the log, which holds them all.
 */
const MAX_WAITING = 1_000;

/** How long a new stream waits for its Redis subscription before its first read regardless. */
const SUBSCRIBE_WAIT_MS = 1_000;

function settledWithin(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

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
 * What the run's announcements told one stream: the events they carried that it has not sent yet,
 * and whether anything exists beyond what it sent that only the log can give.
 */
export class AnnouncedEvents {
  private readonly waiting = new Map<number, EventRecord>();
  /** The highest seq any announcement said the run has reached. */
  private announcedLast = 0;
  /** An announcement said something changed but not what (or could not be read). */
  private unknown = false;

  constructor(private readonly runId: string) {}

  add(announcement: RunAnnouncement, after: number): void {
    const { lastSeq, events } = announcement;
    if (lastSeq === null) {
      this.unknown = true;
      return;
    }
    this.announcedLast = Math.max(this.announcedLast, lastSeq);
    if (!events) return;
    if (
      this.waiting.size + events.length > MAX_WAITING ||
      events.some((event) => event.workflow_run_id !== this.runId)
    ) {
      this.waiting.clear();
      this.unknown = true;
      return;
    }
    for (const event of events) if (event.seq > after) this.waiting.set(event.seq, event);
  }

  /** The event right after `after`, if an announcement carried it (taken out of the buffer). */
  take(after: number): EventRecord | undefined {
    const next = this.waiting.get(after + 1);
    if (next) this.waiting.delete(after + 1);
    return next;
  }

  /** Forgets what was sent another way (read from the log). */
  sent(after: number): void {
    for (const seq of this.waiting.keys()) if (seq <= after) this.waiting.delete(seq);
  }

  /**
   * True when the run has events beyond `after` that the buffer cannot give in order: one was
   * announced without its events, an announcement was lost or overtaken (a gap before what is
   * buffered), or one could not be read.
   */
  needsLog(after: number): boolean {
    return this.unknown || this.waiting.size > 0 || this.announcedLast > after;
  }

  /** A log read starts: it finds whatever had been announced so far (announcements follow the log). */
  reading(): void {
    this.unknown = false;
  }
}

/**
 * Streams a run's log as Server-Sent Events, in `seq` order, from just after `Last-Event-ID` (or
 * `after_seq`), each event exactly once. A stream reads the log on (re)connect, after every
 * heartbeat, and to catch up when announcements cannot say what follows; otherwise it sends the
 * events that the runner's announcement carried (the same records, after they reached the log),
 * and only the one right after the last it sent, so a lost, repeated or overtaking announcement can
 * neither skip nor repeat an event.
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

  const announced = new AnnouncedEvents(runId);
  const send = (event: EventRecord) => {
    res.write(
      `id: ${event.seq}\nevent: ${event.event_type}\ndata: ${JSON.stringify(eventView(event))}\n\n`,
    );
    after = event.seq;
  };
  const sendAnnounced = () => {
    for (let next = announced.take(after); next; next = announced.take(after)) send(next);
  };

  const closed = new AbortController();
  const onClose = () => closed.abort();
  req.on('close', onClose);
  options.shutdown.addEventListener('abort', onClose, { once: true });
  const signal = new ChangeSignal();
  const unsubscribe = options.notifications.subscribe(runId, (announcement) => {
    announced.add(announcement, after);
    signal.notify();
  });
  try {
    // Read the log only once announcements reach this stream: a commit between the read and the
    // subscription would otherwise wait for the next heartbeat. Not for long, though: with Redis
    // away the stream still sends the log, and reads it again at each heartbeat.
    await settledWithin(options.notifications.subscribed(runId), SUBSCRIBE_WAIT_MS);
    let readLog = true;
    while (!closed.signal.aborted) {
      if (readLog) {
        readLog = false;
        announced.reading();
        const events = await options.models.events
          .find({ workflow_run_id: runId, seq: { $gt: after } })
          .sort({ seq: 1 })
          .limit(PAGE)
          .lean<EventRecord[]>();
        for (const event of events) send(event);
        announced.sent(after);
        if (events.length === PAGE) {
          readLog = true;
          continue;
        }
      }
      // Announced while the log was read, continuing from where it ended.
      sendAnnounced();
      const changed = await signal.wait(options.heartbeatMs, closed.signal);
      if (closed.signal.aborted) break;
      if (!changed) {
        res.write(': heartbeat\n\n');
        readLog = true; // In case an announcement was lost while nothing else happened.
        continue;
      }
      sendAnnounced();
      readLog = announced.needsLog(after);
    }
  } finally {
    unsubscribe();
    req.off('close', onClose);
    options.shutdown.removeEventListener('abort', onClose);
    res.end();
  }
}
