import { RunClock, uuid7Hex, type SeededRandom } from './random.js';
import type {
  RunIdentity,
  RunPlan,
  RunStatus,
  SimulatedBranch,
  SimulatedEvent,
  SimulatedRun,
} from './simulator-types.js';
import type { OriginalModule } from './workflow-definition.js';

/**
 * One simulated run's state while the engine walks it: the run record it fills in, its clock and
 * random source, and what the original's engine did to any run whatever the module (writing an
 * event on the current branch, reading the lineage and flat state, forking a branch, finishing).
 * The module simulations share one recorder so their random draws and clock ticks stay in one
 * order, which is what keeps a seed's database identical.
 */
export class RunRecorder {
  readonly clock: RunClock;
  readonly run: SimulatedRun;

  constructor(
    readonly random: SeededRandom,
    readonly identity: RunIdentity,
    /** Counted down as the run goes (retries, jumps, the resume and recovery points). */
    readonly plan: RunPlan,
    readonly multiUser: boolean,
  ) {
    this.clock = new RunClock(identity.start_ms, random);
    const created = new Date(identity.start_ms);
    const rootBranch = `br_${uuid7Hex(random, identity.start_ms)}`;
    this.run = {
      generation: multiUser ? 'multi-user' : 'single-user',
      run_id: identity.run_id,
      status: 'processing',
      waiting_kind: null,
      current_branch_id: rootBranch,
      current_step: null,
      current_step_name: null,
      current_module: null,
      created_at: created,
      updated_at: created,
      completed_at: null,
      version_history: [{ workflow_version_id: identity.workflow_version_id, at: created }],
      current_version_id: identity.workflow_version_id,
      branches: [
        {
          branch_id: rootBranch,
          parent_branch_id: null,
          parent_event_id: null,
          lineage: [{ branch_id: rootBranch, cutoff_event_id: null }],
          created_at: created,
        },
      ],
      events: [],
      llm_calls: [],
      media: [],
      child_runs: [],
      child_branches: [],
      child_events: [],
      saved_files: [],
      option_picks: [],
      scene_keywords: [],
    };
  }

  /** Appends an event on the current branch, at `atMs` or the clock's next tick. */
  emit(
    type: string,
    where: { step_id?: string; module_name?: string },
    data: Record<string, unknown>,
    atMs?: number,
  ): SimulatedEvent {
    const ms = atMs ?? this.clock.tick();
    const event: SimulatedEvent = {
      event_id: `evt_${uuid7Hex(this.random, ms)}`,
      branch_id: this.run.current_branch_id,
      event_type: type,
      data,
      timestamp: new Date(ms),
      workflow_version_id: this.run.current_version_id,
    };
    if (where.step_id) event.step_id = where.step_id;
    if (where.module_name) event.module_name = where.module_name;
    this.run.events.push(event);
    return event;
  }

  finish(status: RunStatus, waiting: SimulatedRun['waiting_kind']): SimulatedRun {
    this.run.status = status;
    this.run.waiting_kind = waiting;
    this.run.updated_at = new Date(this.clock.ms);
    if (status === 'created') {
      this.run.current_step = null;
      this.run.current_step_name = null;
      this.run.current_module = null;
    }
    return this.run;
  }

  /** Whether the run stops at this module's question, once its retries and jumps are used up. */
  shouldStopAt(module: OriginalModule): boolean {
    return (
      this.plan.outcome === 'waiting' &&
      this.plan.stopAt === module.name &&
      this.plan.retries === 0 &&
      this.plan.jumps === 0
    );
  }

  currentBranch(): SimulatedBranch {
    const branch = this.run.branches.find((b) => b.branch_id === this.run.current_branch_id);
    if (!branch) throw new Error('current branch missing');
    return branch;
  }

  /** §4.4 get_lineage_events: events of each lineage branch up to its cutoff, by event_id. */
  lineageEvents(): SimulatedEvent[] {
    const cutoffs = new Map(
      this.currentBranch().lineage.map((entry) => [entry.branch_id, entry.cutoff_event_id]),
    );
    return this.run.events.filter((event) => {
      if (!cutoffs.has(event.branch_id)) return false;
      const cutoff = cutoffs.get(event.branch_id);
      return cutoff === null || cutoff === undefined || event.event_id <= cutoff;
    });
  }

  /** §5.2 get_module_outputs over the current lineage. */
  flatState(): Record<string, unknown> {
    const outputs: Record<string, unknown> = {};
    for (const event of this.lineageEvents()) {
      if (event.event_type !== 'module_completed' && event.event_type !== 'sub_action_completed')
        continue;
      if (event.event_type === 'module_completed' && event.module_name)
        outputs[event.module_name] = event.data;
      const mapped = event.data['_state_mapped'];
      if (mapped && typeof mapped === 'object') Object.assign(outputs, mapped);
    }
    return outputs;
  }

  /** §4.4: new branch whose lineage is the parent's, the parent's entry cut at `cutoffEventId`. */
  fork(cutoffEventId: string | null): { previous: string; next: string } {
    const parent = this.currentBranch();
    const ms = this.clock.tick();
    const branchId = `br_${uuid7Hex(this.random, ms)}`;
    const lineage = parent.lineage.map((entry) =>
      entry.branch_id === parent.branch_id
        ? { branch_id: entry.branch_id, cutoff_event_id: cutoffEventId }
        : { ...entry },
    );
    lineage.push({ branch_id: branchId, cutoff_event_id: null });
    this.run.branches.push({
      branch_id: branchId,
      parent_branch_id: parent.branch_id,
      parent_event_id: cutoffEventId,
      lineage,
      created_at: new Date(ms),
    });
    this.run.current_branch_id = branchId;
    return { previous: parent.branch_id, next: branchId };
  }
}
