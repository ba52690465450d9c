import {
  applyEvent,
  type BranchSnapshot,
  type DecidedEvent,
  type EventType,
} from '@stepwise/shared';

/** A decided event with the branch and version it belongs to (read off the state it leads to). */
export interface StampedEvent extends DecidedEvent {
  branch_id: string;
  workflow_version_id: string;
}

export interface CommandError {
  code: string;
  message: string;
  details?: unknown;
}

/** What applying one command comes to: events to commit, a refusal, or nothing at all. */
export type Decision =
  | { kind: 'commit'; events: StampedEvent[]; snapshot: BranchSnapshot; wakeAt: Date | null }
  | { kind: 'reject'; error: CommandError }
  | { kind: 'noop'; wakeAt: Date | null };

/**
 * Events decided so far for one command, with the branch state they lead to. Every event is
 * folded by the shared reducer the moment it is emitted, so the engine always decides on the state
 * a replay of the log would give.
 */
export class DecisionSession {
  readonly events: StampedEvent[] = [];
  private current: BranchSnapshot;
  wakeAt: Date | null = null;

  constructor(
    snapshot: BranchSnapshot,
    private readonly baseSeq: number,
  ) {
    this.current = snapshot;
  }

  get snapshot(): BranchSnapshot {
    return this.current;
  }

  emit(
    eventType: EventType,
    position: { step_id: string; module_name?: string } | null,
    data: Record<string, unknown> = {},
  ): void {
    const event: DecidedEvent = {
      event_type: eventType,
      step_id: position?.step_id ?? null,
      module_name: position?.module_name ?? null,
      data,
    };
    this.current = applyEvent(this.current, {
      ...event,
      seq: this.baseSeq + this.events.length + 1,
    });
    // Stamped after folding: a branch_created belongs to the new branch, a version_switched to the
    // version it switches to, and so does everything after them.
    this.events.push({
      ...event,
      branch_id: this.current.branch_id,
      workflow_version_id: this.current.version_id,
    });
  }

  /** Starts the session over from another state (a branch's state at its fork point). */
  rebase(snapshot: BranchSnapshot): void {
    this.current = snapshot;
  }

  toDecision(): Decision {
    return this.events.length === 0
      ? { kind: 'noop', wakeAt: this.wakeAt }
      : { kind: 'commit', events: this.events, snapshot: this.current, wakeAt: this.wakeAt };
  }
}
