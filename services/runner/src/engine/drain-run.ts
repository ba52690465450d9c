import type { CommandOutcome, RunCommandRecord, WorkflowRunRecord } from '@stepwise/shared';
import { advance, recordExecution } from './advance.js';
import { reuseEarlierAnswer } from './reuse-answers.js';
import { needsDriving } from './commands/continue.js';
import { decideCommand, decideDrive, type EngineDependencies } from './decide-command.js';
import type { DecisionSession } from './decision.js';
import { executeModule } from './execute-module.js';
import type {
  CommitOrigin,
  InboxPrefetch,
  Lease,
  RunRef,
  RunRepository,
} from './run-repository.js';

export interface DrainDependencies extends EngineDependencies {
  repository: RunRepository;
  /** How long a lease lasts without renewal (renewed every third of it while held). */
  leaseMs: number;
  /** Counts committed events for the metrics (best effort, never waited for). */
  countCommitted?: (events: number) => void;
  /** Asks for a `wake` of the run at `at`, if it still stands at `expectedLastSeq` then. */
  scheduleWake: (runId: string, userId: string, expectedLastSeq: number, at: Date) => Promise<void>;
  /**
   * Marks the provider calls of an attempt still `pending` as `lost` (the attempt has ended); with
   * `recovered`, answered ones too (the attempt runs again: no answer of theirs reached the log).
   */
  closeAttempt: (runId: string, idempotencyKey: string, recovered?: boolean) => Promise<void>;
  /** Asks for a look at the run at `at`, when a lease another drain holds will have expired. */
  scheduleRecovery: (runId: string, userId: string, at: Date) => Promise<void>;
  /**
   * Called right after a commit, before its events are written to the log: a fault-injection
   * point for tests (RUNNER_FAILPOINT), absent in normal use.
   */
  afterCommit?: (events: readonly { event_type: string }[]) => void;
}

export interface DrainResult {
  /** Outcomes of the commands this drain applied or refused, by command id. */
  outcomes: Map<string, CommandOutcome>;
  /** Another drain held the run: its commands are that drain's to apply. */
  deferred: boolean;
}

/** What the job that asks for a drain knows ahead of it. */
export interface DrainHint {
  /** The acceptance number of the job's own command, when the job carries it. */
  commandSeq?: number | undefined;
}

/** An effectful module's start is committed without its end: its drain died mid-module. */
function midModule(run: WorkflowRunRecord): boolean {
  const { status, cursor, attempt_key: attemptKey } = run.snapshot;
  return status === 'running' && cursor?.phase === 'started' && typeof attemptKey === 'string';
}

class LeaseLostError extends Error {
  constructor(runId: string) {
    super(`run ${runId}: the lease was lost`);
  }
}

/**
 * The one drain of a run (effects.md, rule 1). It takes the run's lease (which reads the run),
 * applies pending commands one by one in acceptance order, executes the modules they lead to and
 * commits around every module with external effects, drives the run on while nothing but the
 * engine is needed, and lets the lease go only with a write that fails if a command was accepted
 * since it last read the inbox (then it reads again), so no command waits for the sweeper.
 */
export async function drainRun(
  ref: RunRef,
  deps: DrainDependencies,
  hint: DrainHint = {},
): Promise<DrainResult> {
  const runId = ref.workflow_run_id;
  const outcomes = new Map<string, CommandOutcome>();
  // The job's command is read while the lease is taken rather than after: one round trip fewer
  // between an answer and the events it leads to.
  const prefetch =
    hint.commandSeq === undefined ? null : deps.repository.prefetchInbox(runId, hint.commandSeq);
  const attempt = await deps.repository.acquire(ref, deps.now());
  if (attempt.kind === 'missing') return { outcomes, deferred: false };
  if (attempt.kind === 'held') {
    // The holder applies what is pending; should it have died, this looks again after its lease.
    await deps.scheduleRecovery(runId, attempt.userId, new Date(attempt.expiresAt.getTime() + 50));
    return { outcomes, deferred: true };
  }
  const drain = new Drain(attempt.lease, deps, outcomes);
  const renewal = setInterval(() => void drain.renew(), Math.max(50, deps.leaseMs / 3));
  try {
    await drain.run(attempt.run, await prefetch);
    return { outcomes, deferred: false };
  } catch (error) {
    if (error instanceof LeaseLostError) return { outcomes, deferred: true };
    throw error;
  } finally {
    clearInterval(renewal);
  }
}

class Drain {
  private readonly leaseLost = new AbortController();

  constructor(
    private readonly lease: Lease,
    private readonly deps: DrainDependencies,
    private readonly outcomes: Map<string, CommandOutcome>,
  ) {}

  async renew(): Promise<void> {
    const held = await this.deps.repository.renew(this.lease, this.deps.now()).catch(() => true);
    if (!held) this.leaseLost.abort(new LeaseLostError(this.lease.runId));
  }

  async run(loaded: WorkflowRunRecord, prefetched: InboxPrefetch | null): Promise<void> {
    const repository = this.deps.repository;
    let run = loaded;
    let settledLast = false;
    let drove = false;
    let ahead = prefetched;
    for (;;) {
      const inbox = await repository.inbox(run, ahead);
      ahead = null;
      if (!settledLast) {
        // The previous holder may have died between a commit and writing its events or settling.
        await repository.recoverOutbox(run, inbox.lastApplied);
        if (inbox.unsettled) await this.settleApplied(run, inbox.unsettled);
        settledLast = true;
      }
      // A drain that died (or lost its lease) in the middle of an effectful module left its
      // attempt open: finish that module first (recorded as interrupted, run again with its key),
      // as a live drain would have before letting the next command in at the module boundary.
      if (!drove && midModule(run)) {
        drove = true;
        const after = await this.drive(run);
        if (after === 'released') return;
        run = after;
        continue;
      }
      if (inbox.next) {
        const after = await this.applyCommand(run, inbox.next);
        if (after === 'released') return;
        run = after;
        drove = false;
        continue;
      }
      // A number taken for a command not stored yet: its acceptor enqueues a job for it once it is
      // stored, so the lease is let go (a chain stops at this module boundary until it is applied).
      if (inbox.inFlight && (await repository.release(this.lease, run))) return;
      if (inbox.inFlight) {
        run = await this.reread();
        continue;
      }
      if (!drove && needsDriving(run, this.deps.now())) {
        drove = true;
        const after = await this.drive(run);
        if (after === 'released') return;
        run = after;
        continue;
      }
      if (await repository.release(this.lease, run)) return;
      // A command was accepted since the inbox was read: read it again.
      run = await this.reread();
    }
  }

  private async reread(): Promise<WorkflowRunRecord> {
    const run = await this.deps.repository.reread(this.lease);
    if (!run) throw new LeaseLostError(this.lease.runId);
    return run;
  }

  /** A command its drain applied but did not live to settle. */
  private async settleApplied(run: WorkflowRunRecord, command: RunCommandRecord): Promise<void> {
    const rejection =
      run.last_rejection?.command_seq === command.seq ? run.last_rejection.error : null;
    await this.deps.repository.settle(
      command,
      rejection ? 'rejected' : 'applied',
      rejection,
      rejection ? undefined : run.last_seq,
    );
    await this.deps.repository.announce(run, run.last_seq);
  }

  private async applyCommand(
    run: WorkflowRunRecord,
    command: RunCommandRecord,
  ): Promise<WorkflowRunRecord | 'released'> {
    const repository = this.deps.repository;
    const decision = await decideCommand(run, command, this.deps);
    if (decision.kind !== 'events') {
      const error = decision.kind === 'reject' ? decision.error : null;
      const after = await repository.skip(this.lease, run, command, error);
      if (!after) throw new LeaseLostError(run.workflow_run_id);
      await repository.settle(command, error ? 'rejected' : 'applied', error);
      await repository.announce(run, run.last_seq);
      this.outcomes.set(
        command.command_id,
        error ? { status: 'rejected', error } : { status: 'applied' },
      );
      if (decision.kind === 'noop' && decision.wakeAt)
        await this.deps.scheduleWake(
          run.workflow_run_id,
          run.user_id,
          run.last_seq,
          decision.wakeAt,
        );
      return after;
    }
    const origin: CommitOrigin = {
      command_id: command.command_id,
      correlation_id: command.correlation_id,
      actor: command.actor ?? null,
      appliesCommand: command.seq,
    };
    return this.runSession(run, decision.session, origin, command);
  }

  /** Drives a running run on, on behalf of the command whose chain it continues. */
  private async drive(run: WorkflowRunRecord): Promise<WorkflowRunRecord | 'released'> {
    const decision = await decideDrive(run, this.deps);
    if (decision.kind === 'noop') {
      if (decision.wakeAt)
        await this.deps.scheduleWake(
          run.workflow_run_id,
          run.user_id,
          run.last_seq,
          decision.wakeAt,
        );
      return run;
    }
    if (decision.kind === 'reject') return run;
    const last = run.outbox.at(-1);
    const origin: CommitOrigin = {
      command_id: last?.command_id ?? null,
      correlation_id: last?.correlation_id ?? `correlation_${run.workflow_run_id}`,
      actor: last?.actor ?? null,
      appliesCommand: null,
    };
    return this.runSession(run, decision.session, origin, null);
  }

  /**
   * Executes what a decision asks for and commits as it goes: pure modules run in the batch;
   * before a module with external effects the batch is committed (so its `module_started` and key
   * are in the log before any effect), and its end is committed as soon as it ends. A command
   * accepted meanwhile stops the chain at that module boundary (the drain applies it, then drives
   * the run on if it is still running).
   */
  private async runSession(
    start: WorkflowRunRecord,
    session: DecisionSession,
    origin: CommitOrigin,
    command: RunCommandRecord | null,
  ): Promise<WorkflowRunRecord | 'released'> {
    let run = start;
    let current = origin;
    for (;;) {
      const pending = session.pending;
      if (pending && pending.effects === 'none') {
        const result = await executeModule(this.deps, run, session, pending, this.leaseLost.signal);
        recordExecution(session, pending, result, this.deps);
        // A question answered before, asked the same way, needs no one when the run says so.
        await reuseEarlierAnswer(session, run, pending.plan, this.deps);
        await advance(session, run, pending.plan, this.deps);
        continue;
      }
      const committed = await this.commit(run, session, current, command);
      if (committed === 'released') return 'released';
      // The command is applied by the first commit that wrote events.
      if (committed.last_seq !== run.last_seq) current = { ...current, appliesCommand: null };
      run = committed;
      if (!pending) {
        // A command whose work came to no event (a check on an outside job that found it
        // unchanged) is applied all the same, or the inbox would hand it out again.
        if (command && current.appliesCommand !== null)
          return this.applyWithoutEvents(run, command);
        return run;
      }

      if (pending.recovered)
        await this.deps.closeAttempt(run.workflow_run_id, pending.idempotencyKey, true);
      const result = await executeModule(this.deps, run, session, pending, this.leaseLost.signal);
      if (this.leaseLost.signal.aborted) throw new LeaseLostError(run.workflow_run_id);
      // A call still pending when its attempt ended was never answered: it may have been billed.
      if (!result.ok) await this.deps.closeAttempt(run.workflow_run_id, pending.idempotencyKey);
      recordExecution(session, pending, result, this.deps);
      // The end of an effectful module is committed the moment it is known.
      const ended = await this.commit(run, session, current, command);
      if (ended === 'released') return 'released';
      if (ended.last_seq !== run.last_seq) current = { ...current, appliesCommand: null };
      run = ended;
      // A command accepted meanwhile is applied at this module boundary (a cancel stops the chain).
      const unapplied = command && current.appliesCommand !== null ? 1 : 0;
      if (run.command_seq > run.applied_command_seq + unapplied) {
        if (unapplied === 1 && command) return this.applyWithoutEvents(run, command);
        return run;
      }
      await advance(session, run, pending.plan, this.deps);
    }
  }

  /** Applies a command that led to no event: its number is stepped over and it is settled. */
  private async applyWithoutEvents(
    run: WorkflowRunRecord,
    command: RunCommandRecord,
  ): Promise<WorkflowRunRecord> {
    const repository = this.deps.repository;
    const after = await repository.skip(this.lease, run, command, null);
    if (!after) throw new LeaseLostError(run.workflow_run_id);
    await repository.settle(command, 'applied', null);
    await repository.announce(run, run.last_seq);
    this.outcomes.set(command.command_id, { status: 'applied' });
    return { ...after, wake_at: run.wake_at ?? null, wake_seq: run.wake_seq ?? null };
  }

  private async commit(
    run: WorkflowRunRecord,
    session: DecisionSession,
    origin: CommitOrigin,
    command: RunCommandRecord | null,
  ): Promise<WorkflowRunRecord | 'released'> {
    const repository = this.deps.repository;
    const events = session.takeEvents();
    if (events.length === 0) {
      // Nothing to commit, but a timer may have been set (an outside job found unchanged).
      if (!session.wakeAt) return run;
      const at = session.wakeAt;
      session.wakeAt = null;
      await this.deps.scheduleWake(run.workflow_run_id, run.user_id, run.last_seq, at);
      return { ...run, wake_at: at, wake_seq: run.last_seq };
    }
    const committed = await repository.commit(
      this.lease,
      run,
      origin,
      events,
      session.snapshot,
      this.deps.now(),
      // Nothing left for the engine to do: the lease may go with this write.
      session.pending === null &&
        !needsDriving({ ...run, snapshot: session.snapshot }, this.deps.now()),
    );
    if (!committed) throw new LeaseLostError(run.workflow_run_id);
    this.deps.afterCommit?.(committed.events);
    await repository.writeEvents(run, committed.events);
    const lastSeq = committed.run.last_seq;
    if (command && origin.appliesCommand !== null) {
      await repository.settle(command, 'applied', null, lastSeq);
      this.outcomes.set(command.command_id, { status: 'applied' });
    } else if (origin.command_id) {
      await repository.markWritten(
        { workflow_run_id: run.workflow_run_id, command_id: origin.command_id },
        lastSeq,
      );
    }
    this.deps.countCommitted?.(committed.events.length);
    if (session.wakeAt) {
      await this.deps.scheduleWake(run.workflow_run_id, run.user_id, lastSeq, session.wakeAt);
      session.wakeAt = null;
    }
    return committed.released ? 'released' : committed.run;
  }
}
