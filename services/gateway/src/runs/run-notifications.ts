import type { RedisClient } from '@stepwise/shared/node';
import { runChannel, userChannel } from '@stepwise/shared';

type Listener = (lastSeq: number) => void;

/**
 * Fans Redis pub/sub announcements of run commits out to the requests that wait on them, over one
 * subscriber connection per gateway process. Announcements only say "look again"; readers always
 * read the log itself, so a lost announcement delays an update but never loses one.
 */
export class RunNotifications {
  private readonly listeners = new Map<string, Set<Listener>>();

  constructor(
    private readonly subscriber: RedisClient,
    private readonly queuePrefix: string,
  ) {
    subscriber.on('message', (channel: string, message: string) => {
      for (const listener of this.listeners.get(channel) ?? []) listener(Number(message));
    });
  }

  subscribe(runId: string, listener: Listener): () => void {
    return this.listen(runChannel(this.queuePrefix, runId), listener);
  }

  /** Commits of any of the user's runs (the runner announces each on the user's channel too). */
  subscribeUser(userId: string, listener: Listener): () => void {
    return this.listen(userChannel(this.queuePrefix, userId), listener);
  }

  private listen(channel: string, listener: Listener): () => void {
    let set = this.listeners.get(channel);
    if (!set) {
      set = new Set();
      this.listeners.set(channel, set);
      void this.subscriber.subscribe(channel).catch(() => undefined);
    }
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.listeners.get(channel) === set) {
        this.listeners.delete(channel);
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
