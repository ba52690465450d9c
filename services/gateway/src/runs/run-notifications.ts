import type { RedisClient } from '@stepwise/shared/node';
import {
  decodeRunAnnouncement,
  runChannel,
  userChannel,
  type RunAnnouncement,
} from '@stepwise/shared';

export type RunListener = (announcement: RunAnnouncement) => void;
/** The user channel names the run that changed. */
export type UserListener = (runId: string) => void;
/** A raw listener: the message, and its decoding as a run announcement (done once per message). */
type Listener = (message: string, announcement: () => RunAnnouncement) => void;

/**
 * Fans Redis pub/sub announcements of run commits out to the requests that wait on them, over one
 * subscriber connection per gateway process. An announcement may carry the commit's events (see
 * run-announcement.ts); they are in the log before they are announced, so a reader that misses
 * one loses nothing, and any reader may ignore them and read the log instead.
 */
export class RunNotifications {
  private readonly channels = new Map<
    string,
    { listeners: Set<Listener>; subscribed: Promise<void> }
  >();

  constructor(
    private readonly subscriber: RedisClient,
    private readonly queuePrefix: string,
  ) {
    subscriber.on('message', (channel: string, message: string) => {
      const listeners = this.channels.get(channel)?.listeners;
      if (!listeners) return;
      let decoded: RunAnnouncement | undefined;
      const announcement = () => (decoded ??= decodeRunAnnouncement(message));
      for (const listener of listeners) listener(message, announcement);
    });
  }

  subscribe(runId: string, listener: RunListener): () => void {
    // Every stream of the run shares the decoded events; none may change them.
    return this.listen(runChannel(this.queuePrefix, runId), (_message, announcement) =>
      listener(announcement()),
    );
  }

  /**
   * Settles once Redis confirmed the subscription to the run's channel (or refused it): from then
   * on no announcement is missed, so a reader that reads the log after this sees every commit
   * either in that read or announced. (Settles at once for a channel nobody listens to.)
   */
  subscribed(runId: string): Promise<void> {
    return this.channels.get(runChannel(this.queuePrefix, runId))?.subscribed ?? Promise.resolve();
  }

  /** Commits of any of the user's runs (the runner announces each on the user's channel too). */
  subscribeUser(userId: string, listener: UserListener): () => void {
    return this.listen(userChannel(this.queuePrefix, userId), (message) => listener(message));
  }

  private listen(channel: string, listener: Listener): () => void {
    let entry = this.channels.get(channel);
    if (!entry) {
      // A failed subscription is only slower: readers fall back to their periodic reads. The
      // entry is dropped, so that the next reader of the channel subscribes again.
      const created: { listeners: Set<Listener>; subscribed: Promise<void> } = {
        listeners: new Set(),
        subscribed: Promise.resolve(),
      };
      created.subscribed = this.subscriber.subscribe(channel).then(
        () => undefined,
        () => {
          if (this.channels.get(channel) === created) this.channels.delete(channel);
        },
      );
      entry = created;
      this.channels.set(channel, entry);
    }
    const current = entry;
    current.listeners.add(listener);
    return () => {
      current.listeners.delete(listener);
      if (current.listeners.size === 0 && this.channels.get(channel) === current) {
        this.channels.delete(channel);
        void this.subscriber.unsubscribe(channel).catch(() => undefined);
      }
    };
  }
}

/**
 * A latch a reader waits on between reads: set by an announcement, cleared by `wait`. An
 * announcement that arrives while the reader is busy is kept, not missed.
 */
export class ChangeSignal {
  private signalled = false;
  private wake: (() => void) | null = null;

  notify = (): void => {
    this.signalled = true;
    this.wake?.();
  };

  /** Resolves true on a change, false when `timeoutMs` passes or `abort` fires first. */
  wait(timeoutMs: number, abort?: AbortSignal): Promise<boolean> {
    if (this.signalled) {
      this.signalled = false;
      return Promise.resolve(true);
    }
    return new Promise((resolve) => {
      const finish = (changed: boolean) => {
        clearTimeout(timer);
        abort?.removeEventListener('abort', onAbort);
        this.wake = null;
        this.signalled = false;
        resolve(changed);
      };
      const onAbort = () => finish(false);
      const timer = setTimeout(() => finish(false), timeoutMs);
      abort?.addEventListener('abort', onAbort, { once: true });
      this.wake = () => finish(true);
      if (abort?.aborted) finish(false);
    });
  }
}
