import {
  emptySnapshot,
  type OriginalWorkflowTranslation,
  replayEvents,
  runFieldsOf,
  type BranchRecord,
  type EventRecord,
  type FoldableEvent,
  type RunStatus,
  type WorkflowRunRecord,
} from '@stepwise/shared';
import { derivedHex, derivedId, derivedObjectId } from '../deterministic.js';
import { dateOf } from './dates.js';
import { mapOriginalEvent, positionOf } from './event-mapping.js';
import {
  runIdOf,
  type OriginalBranch,
  type OriginalEvent,
  type OriginalRun,
} from './source-records.js';

/**
 * One original run as Stepwise's documents (docs/migration-original.md, "Runs"). Pure: the same
 * run, log and branches always give the same documents, so a migration killed and run again
 * writes exactly what one uninterrupted run writes.
 */

export interface RunTarget {
  userId: string;
  templateId: string;
  templateName: string;
  versionId: string;
  /** Versions that exist in the target: an event's own version is kept only if it is one. */
  knownVersionIds: ReadonlySet<string>;
  projectName: string;
  /** A sub-action's child run: settled as it stands, never left to go on. */
  settled?: boolean;
  /** Modules the run's version names otherwise than the original did (the importer's `moved`). */
  moved?: OriginalWorkflowTranslation['moved'];
}

export interface BuiltRun {
  run: WorkflowRunRecord & { _id: unknown };
  events: (EventRecord & { _id: unknown })[];
  branches: (BranchRecord & { _id: unknown })[];
  /** Original types kept verbatim as `legacy_event`, counted. */
  keptTypes: Record<string, number>;
  /** Set when the original's cached status disagreed with its own log (research §4.4, recovery). */
  statusDisagreement: string | null;
}

/** The original's status words, for runs at rest (`created`/`processing` mean it was moving). */
const settledStatus: Record<string, RunStatus> = { completed: 'completed', error: 'error' };

/** A branch's stored lineage, its odd entries (not objects, no branch id) left out. */
function lineageEntries(
  branch: OriginalBranch,
): { branch_id: string; cutoff_event_id: string | null }[] {
  if (!Array.isArray(branch.lineage)) return [];
  return branch.lineage.flatMap((entry: unknown) => {
    if (typeof entry !== 'object' || entry === null) return [];
    const { branch_id, cutoff_event_id } = entry as Record<string, unknown>;
    if (typeof branch_id !== 'string') return [];
    return [
      { branch_id, cutoff_event_id: typeof cutoff_event_id === 'string' ? cutoff_event_id : null },
    ];
  });
}

/**
 * The branch's ancestors from the root down, each with the last seq of theirs it sees. The
 * original includes an ancestor's events up to its cutoff event id (`event_id <= cutoff`, §4.4);
 * seqs follow event ids, so that is every seq up to the last event at or before the cutoff. A
 * null cutoff on an ancestor includes the whole of it, as the original's query does.
 */
function lineageOf(
  branchId: string,
  branches: ReadonlyMap<string, OriginalBranch>,
  cutoffSeq: (cutoff: string | null | undefined) => number,
  seen: Set<string> = new Set(),
): BranchRecord['lineage'] {
  const branch = branches.get(branchId);
  if (!branch || seen.has(branchId)) return [];
  seen.add(branchId);
  const stored = lineageEntries(branch);
  if (stored.length > 0) {
    const own = stored.findIndex((entry) => entry.branch_id === branchId);
    const ancestors = own >= 0 ? stored.slice(0, own) : stored;
    return ancestors.map((entry) => ({
      branch_id: entry.branch_id,
      until_seq: cutoffSeq(entry.cutoff_event_id),
    }));
  }
  const parent = branch.parent_branch_id;
  if (!parent) return [];
  return [
    ...lineageOf(parent, branches, cutoffSeq, seen),
    {
      branch_id: parent,
      until_seq: cutoffSeq(branch.parent_event_id ?? branch.branch_point_event_id ?? null),
    },
  ];
}

function parentOf(branch: OriginalBranch, lineage: BranchRecord['lineage']) {
  const stored = lineageEntries(branch);
  if (stored.length > 0) {
    const own = stored.findIndex((entry) => entry.branch_id === branch.branch_id);
    const parent = own > 0 ? stored[own - 1] : undefined;
    return { parent: parent?.branch_id ?? null, point: parent?.cutoff_event_id ?? null };
  }
  return {
    parent: branch.parent_branch_id ?? lineage.at(-1)?.branch_id ?? null,
    point: branch.parent_event_id ?? branch.branch_point_event_id ?? null,
  };
}

export function buildRun(
  original: OriginalRun,
  originalEvents: readonly OriginalEvent[],
  originalBranches: readonly OriginalBranch[],
  target: RunTarget,
): BuiltRun {
  const runId = runIdOf(original);
  // The original reads a log in event-id order (its ids are time-ordered UUIDv7s, §4.4).
  const events = [...originalEvents].sort((a, b) =>
    a.event_id < b.event_id ? -1 : a.event_id > b.event_id ? 1 : 0,
  );
  // Sorted by id, so nothing depends on the order the source returned them in.
  const sortedBranches = originalBranches
    .filter((branch) => typeof branch.branch_id === 'string')
    .sort((a, b) => (a.branch_id < b.branch_id ? -1 : a.branch_id > b.branch_id ? 1 : 0));
  const branches = new Map(sortedBranches.map((branch) => [branch.branch_id, branch]));
  const root =
    [...branches.values()].find(
      (branch) => !branch.parent_branch_id && !(branch.lineage ?? []).length,
    )?.branch_id ??
    [...branches.values()].find((branch) => (branch.lineage ?? []).length === 1)?.branch_id ??
    original.current_branch_id ??
    `br_${derivedHex('original-root-branch', runId).slice(0, 32)}`;
  // Events without a branch were the run's before it had branches; the original's own backfill
  // gave them its root branch (§3.2).
  const branchOf = (event: OriginalEvent) => event.branch_id ?? root;
  for (const event of events) {
    const id = branchOf(event);
    if (!branches.has(id))
      branches.set(id, { _id: null, branch_id: id, created_at: dateOf(event.timestamp) });
  }
  const cutoffSeq = (cutoff: string | null | undefined): number => {
    if (cutoff === null || cutoff === undefined) return events.length;
    let last = 0;
    events.forEach((event, index) => {
      if (event.event_id <= cutoff) last = index + 1;
    });
    return last;
  };

  const ordered = [...branches.values()].sort(
    (a, b) =>
      (dateOf(a.created_at)?.getTime() ?? 0) - (dateOf(b.created_at)?.getTime() ?? 0) ||
      (a.branch_id < b.branch_id ? -1 : a.branch_id > b.branch_id ? 1 : 0),
  );
  const activeBranchId =
    original.current_branch_id && branches.has(original.current_branch_id)
      ? original.current_branch_id
      : (ordered.at(-1)?.branch_id ?? root);
  const fallbackTime = dateOf(original.created_at) ?? new Date(0);
  const builtBranches = ordered.map((branch) => {
    const lineage = lineageOf(branch.branch_id, branches, cutoffSeq);
    const { parent, point } = parentOf(branch, lineage);
    return {
      _id: derivedObjectId('original-branch', runId, branch.branch_id),
      branch_id: branch.branch_id,
      workflow_run_id: runId,
      parent_branch_id: parent,
      branch_point_event_id: point,
      lineage,
      status: branch.branch_id === activeBranchId ? ('active' as const) : ('inactive' as const),
      created_at: dateOf(branch.created_at) ?? fallbackTime,
    };
  });

  // A module the translated version names otherwise (research-doc names that are not slugs, a
  // module without a name) is renamed in the log, so the run stands where its version has it; the
  // original position stays on the event (`legacy_position`).
  const moves = new Map(
    (target.moved ?? []).map((move) => [
      `${move.from.step_id}\u0000${move.from.module_name}`,
      move.to,
    ]),
  );
  const movedName = new Map<string, string>();
  for (const move of target.moved ?? []) movedName.set(move.from.module_name, move.to.module_name);
  // Each event mapped in log order; a retry's target step is where that module last ran.
  const stepOfModule = new Map<string, string>();
  const keptTypes: Record<string, number> = {};
  const correlationId = derivedId('corr', 'original', runId);
  const builtEvents = events.map((event, index) => {
    const original = positionOf(event);
    const moved =
      original.step_id !== null && original.module_name !== null
        ? moves.get(`${original.step_id}\u0000${original.module_name}`)
        : undefined;
    const placed = moved ? { ...event, ...moved } : event;
    const decided = mapOriginalEvent(placed, (name) => {
      const renamed = movedName.get(name) ?? name;
      const step = stepOfModule.get(renamed);
      return step === undefined ? null : { step_id: step, module_name: renamed };
    });
    if (moved) decided.data = { ...decided.data, legacy_position: original };
    const { step_id, module_name } = positionOf(placed);
    if (step_id !== null && module_name !== null) stepOfModule.set(module_name, step_id);
    if (decided.event_type === 'legacy_event')
      keptTypes[event.event_type] = (keptTypes[event.event_type] ?? 0) + 1;
    const versionId =
      event.workflow_version_id && target.knownVersionIds.has(event.workflow_version_id)
        ? event.workflow_version_id
        : target.versionId;
    return {
      _id: derivedObjectId('original-event', runId, event.event_id),
      event_id: event.event_id,
      workflow_run_id: runId,
      workflow_version_id: versionId,
      branch_id: branchOf(event),
      seq: index + 1,
      ...decided,
      timestamp: dateOf(event.timestamp) ?? fallbackTime,
      correlation_id: correlationId,
      command_id: null,
      actor: null,
    } as EventRecord & { _id: unknown };
  });

  const activeLineage = builtBranches.find((b) => b.branch_id === activeBranchId)?.lineage ?? [];
  const visible: FoldableEvent[] = builtEvents.filter(
    (event) =>
      event.branch_id === activeBranchId ||
      activeLineage.some(
        (ancestor) => ancestor.branch_id === event.branch_id && event.seq <= ancestor.until_seq,
      ),
  );
  const folded =
    visible.length > 0
      ? { ...replayEvents(activeBranchId, visible, target.versionId), version_id: target.versionId }
      : emptySnapshot(activeBranchId, target.versionId);
  const fields = runFieldsOf(folded);
  // At rest the original's status stands; in flight, its log says where the run is (the
  // original's own recovery trusts the log over the cached status, §4.4): a question left open
  // waits for its answer; a module that failed last (the original never set `error` itself, §4.2)
  // is an error a resume runs again. A sub-action's child run never goes on by itself: the
  // original moved only its parent on (§2.1).
  const recorded = typeof original.status === 'string' ? original.status : 'processing';
  const failedLast = folded.cursor?.phase === 'failed';
  const status: RunStatus =
    settledStatus[recorded] ??
    (failedLast
      ? 'error'
      : target.settled
        ? folded.cursor?.phase === 'completed'
          ? 'completed'
          : 'cancelled'
        : fields.pending_interaction
          ? 'awaiting_input'
          : 'running');
  const statusDisagreement =
    recorded === 'awaiting_input' && status !== 'awaiting_input'
      ? 'awaiting_input without a pending interaction'
      : recorded === 'processing' && status === 'awaiting_input'
        ? 'processing with a pending interaction'
        : null;
  const snapshot = {
    ...folded,
    status,
    pending_interaction: status === 'awaiting_input' ? folded.pending_interaction : null,
  };
  const created = dateOf(original.created_at) ?? dateOf(events[0]?.timestamp) ?? new Date(0);
  const initialVersion = events.find((event) => event.event_type === 'workflow_created')?.data?.[
    'version_id'
  ];
  const run = {
    _id: derivedObjectId('original-run', runId),
    workflow_run_id: runId,
    workflow_template_id: target.templateId,
    workflow_template_name: target.templateName,
    user_id: target.userId,
    initial_version_id:
      typeof initialVersion === 'string' && target.knownVersionIds.has(initialVersion)
        ? initialVersion
        : target.versionId,
    current_version_id: target.versionId,
    project_name: target.projectName,
    initial_state: {},
    status,
    current_step: fields.current_step ?? original.current_step ?? null,
    current_module: fields.current_module,
    pending_interaction: snapshot.pending_interaction,
    error:
      status === 'error'
        ? (fields.error ?? { code: 'LEGACY_ERROR', message: 'the run failed before migration' })
        : null,
    active_branch_id: activeBranchId,
    last_seq: builtEvents.length,
    command_seq: 0,
    applied_command_seq: 0,
    command_accepted_at: null,
    last_rejection: null,
    snapshot,
    outbox: [],
    created_at: created,
    updated_at: dateOf(original.updated_at) ?? created,
  };
  return { run, events: builtEvents, branches: builtBranches, keptTypes, statusDisagreement };
}
