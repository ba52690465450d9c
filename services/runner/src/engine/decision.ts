import {
  applyEvent,
  type BranchSnapshot,
  type DecidedEvent,
  type DisplayItem,
  type EventDataInput,
  type EventType,
  type JobInProgress,
  type PlannedModule,
  type StepwiseModule,
  type WorkflowPlan,
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

/**
 * A module the decision wants run: the executor runs it outside the decision and its result
 * becomes events. For a module with `external` effects the drain commits everything up to its
 * `module_started` first, so the log names the attempt (and its idempotency key) before any
 * effect can happen.
 */
export interface ModuleExecution {
  planned: PlannedModule;
  implementation: StepwiseModule;
  /** The plan the module belongs to (a branch or version switch may change it mid-decision). */
  plan: WorkflowPlan;
  attempt: number;
  inputs: Record<string, unknown>;
  /** An interactive module's rendered `display` (null when it declares none), for its request. */
  display: DisplayItem[] | null;
  /** `<run id>:<seq of the attempt's module_started>`: unique for ever. */
  idempotencyKey: string;
  effects: 'none' | 'external';
  /** A recovering drain runs an interrupted attempt again, same attempt, same key. */
  recovered: boolean;
  /** The outside job this attempt already submitted and now checks on (`api.job`), or null. */
  job: JobInProgress | null;
}

/** What applying one command comes to: events to commit, a refusal, or nothing at all. */
export type Decision =
  | { kind: 'events'; session: DecisionSession }
  | { kind: 'reject'; error: CommandError }
  | { kind: 'noop'; wakeAt: Date | null };

/**
 * Events decided so far, with the branch state they lead to. Every event is folded by the shared
 * reducer the moment it is emitted, so the engine always decides on the state a replay of the log
 * would give. `pending` is the module the decision stopped at because it must be executed.
 */
export class DecisionSession {
  readonly events: StampedEvent[] = [];
  private current: BranchSnapshot;
  wakeAt: Date | null = null;
  pending: ModuleExecution | null = null;

  constructor(
    snapshot: BranchSnapshot,
    private baseSeq: number,
  ) {
    this.current = snapshot;
  }

  get snapshot(): BranchSnapshot {
    return this.current;
  }

  /** The seq the next emitted event will take. */
  get nextSeq(): number {
    return this.baseSeq + this.events.length + 1;
  }

  /** Emits one event; its data is checked at compile time against the event type's schema. */
  emit<K extends EventType>(
    eventType: K,
    position: { step_id: string; module_name?: string } | null,
    ...[data]: Record<string, never> extends EventDataInput<K>
      ? [data?: EventDataInput<K>]
      : [data: EventDataInput<K>]
  ): void {
    const event: DecidedEvent = {
      event_type: eventType,
      step_id: position?.step_id ?? null,
      module_name: position?.module_name ?? null,
      data: (data ?? {}) as Record<string, unknown>,
    };
    this.current = applyEvent(this.current, { ...event, seq: this.nextSeq });
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

  /** The events decided since the last commit; the session goes on after them from `baseSeq`. */
  takeEvents(): StampedEvent[] {
    const taken = this.events.splice(0, this.events.length);
    this.baseSeq += taken.length;
    return taken;
  }

  toDecision(): Decision {
    return this.events.length === 0 && this.pending === null
      ? { kind: 'noop', wakeAt: this.wakeAt }
      : { kind: 'events', session: this };
  }
}
