import {
  applyEvent,
  type BranchSnapshot,
  type DecidedEvent,
  type EventType,
} from '@stepwise/shared';

export interface CommandError {
  code: string;
  message: string;
  details?: unknown;
}

/** What applying one command comes to: events to commit, a refusal, or nothing at all. */
export type Decision =
  | { kind: 'commit'; events: DecidedEvent[]; snapshot: BranchSnapshot; wakeAt: Date | null }
  | { kind: 'reject'; error: CommandError }
  | { kind: 'noop'; wakeAt: Date | null };

/**
 * Events decided so far for one command, with the branch state they lead to. Every event is
 * folded by the shared reducer the moment it is emitted, so the engine always decides on the state
 * a replay of the log would give.
 */
export class DecisionSession {
  readonly events: DecidedEvent[] = [];
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
    this.events.push(event);
    this.current = applyEvent(this.current, { ...event, seq: this.baseSeq + this.events.length });
  }

  toDecision(): Decision {
    return this.events.length === 0
      ? { kind: 'noop', wakeAt: this.wakeAt }
      : { kind: 'commit', events: this.events, snapshot: this.current, wakeAt: this.wakeAt };
  }
}
