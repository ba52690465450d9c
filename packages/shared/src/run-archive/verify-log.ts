import { canonicalJson } from '../canonical-json.js';
import type { ErrorDetail } from '../errors.js';
import type { BranchRecord, BranchSnapshot, EventRecord } from '../records.js';
import { eventDataOf, runEventSchema } from '../runs/event-data.js';
import { replayEvents, runFieldsOf } from '../runs/reducer.js';
import type { RunArchiveManifest } from './format.js';
import type { ArchiveDocuments } from './open-archive.js';

/**
 * The checks an imported log must pass before anything is written (docs/run-export.md,
 * "Verification"): every document is the run's; the log is gap-free and in order; each event's
 * data fits its type; branches hang together; and replaying the active branch's visible events
 * with the one reducer gives the state the run document says it is in.
 */
export function verifyRunLog(
  manifest: RunArchiveManifest,
  documents: ArchiveDocuments,
): ErrorDetail[] {
  const problems: ErrorDetail[] = [];
  checkOwnership(manifest, documents, problems);
  checkEvents(documents, problems);
  checkBranches(documents, problems);
  checkCommandsAndOutputs(documents, problems);
  // A replay of a log already found broken would only repeat what was said.
  if (problems.length === 0) checkReplay(documents, problems);
  return problems;
}

function checkOwnership(
  manifest: RunArchiveManifest,
  { run, versions, branches, events, commands, tokens, artifacts }: ArchiveDocuments,
  problems: ErrorDetail[],
): void {
  const runId = run.workflow_run_id;
  const userId = run.user_id;
  if (runId !== manifest.source.workflow_run_id || userId !== manifest.source.user_id)
    problems.push({ path: 'run.json', message: 'is not the run the manifest names' });
  const counted: [keyof RunArchiveManifest['counts'], number][] = [
    ['versions', versions.length],
    ['branches', branches.length],
    ['events', events.length],
    ['commands', commands.length],
    ['tokens', tokens.length],
    ['artifacts', artifacts.length],
  ];
  for (const [name, count] of counted)
    if (manifest.counts[name] !== count)
      problems.push({
        path: `manifest.json.counts.${name}`,
        message: `the archive holds ${count}`,
      });
  const ofRun: [string, readonly { workflow_run_id: string }[]][] = [
    ['branches.jsonl', branches],
    ['events.jsonl', events],
    ['commands.jsonl', commands],
    ['tokens.jsonl', tokens],
    ['artifacts.jsonl', artifacts],
  ];
  for (const [name, records] of ofRun)
    records.forEach((record, index) => {
      if (record.workflow_run_id !== runId)
        problems.push({ path: `${name}[${index}].workflow_run_id`, message: 'another run' });
    });
  const ofUser: [string, readonly { user_id: string }[]][] = [
    ['versions.jsonl', versions],
    ['commands.jsonl', commands],
    ['tokens.jsonl', tokens],
    ['artifacts.jsonl', artifacts],
  ];
  for (const [name, records] of ofUser)
    records.forEach((record, index) => {
      if (record.user_id !== userId)
        problems.push({ path: `${name}[${index}].user_id`, message: "not the run's owner" });
    });
  const versionIds = new Set(versions.map((version) => version.workflow_version_id));
  if (versionIds.size !== versions.length)
    problems.push({ path: 'versions.jsonl', message: 'a version appears twice' });
  for (const id of [run.initial_version_id, run.current_version_id, run.snapshot.version_id])
    if (!versionIds.has(id))
      problems.push({ path: 'run.json', message: `names version ${id}, not in the archive` });
}

function checkEvents(
  { run, branches, events, versions }: ArchiveDocuments,
  problems: ErrorDetail[],
) {
  const branchIds = new Set(branches.map((branch) => branch.branch_id));
  const versionIds = new Set(versions.map((version) => version.workflow_version_id));
  const eventIds = new Set<string>();
  if (events.length !== run.last_seq)
    problems.push({
      path: 'events.jsonl',
      message: `holds ${events.length} events; the run's last_seq is ${run.last_seq}`,
    });
  if (events[0] && events[0].event_type !== 'run_created')
    problems.push({ path: 'events.jsonl[0]', message: 'the log must begin with run_created' });
  events.forEach((event, index) => {
    const where = `events.jsonl[${index}]`;
    // The seq is the run's: one sequence over all branches, from 1, without gaps or repeats, so
    // each branch's events are in order too.
    if (event.seq !== index + 1)
      problems.push({ path: `${where}.seq`, message: `expected ${index + 1}, found ${event.seq}` });
    if (eventIds.has(event.event_id))
      problems.push({ path: `${where}.event_id`, message: 'appears twice' });
    eventIds.add(event.event_id);
    if (!branchIds.has(event.branch_id))
      problems.push({ path: `${where}.branch_id`, message: 'no such branch in the archive' });
    for (const versionId of versionsNamedBy(event))
      if (!versionIds.has(versionId))
        problems.push({ path: where, message: `names version ${versionId}, not in the archive` });
    const typed = runEventSchema.safeParse(event);
    if (!typed.success)
      problems.push({
        path: where,
        message: `not a valid ${event.event_type} event: ${typed.error.issues
          .map((issue) => `${issue.path.join('.')} ${issue.message}`)
          .join('; ')}`,
      });
  });
}

/** The versions an event names: its own, and those a switch or a fork goes from or onto. */
function versionsNamedBy(event: EventRecord): string[] {
  const named = [event.workflow_version_id];
  const switched = eventDataOf(event, 'version_switched');
  if (switched) named.push(switched.from_version_id, switched.to_version_id);
  const onto = eventDataOf(event, 'branch_created')?.workflow_version_id;
  if (onto) named.push(onto);
  return named;
}

function checkBranches({ run, branches, events }: ArchiveDocuments, problems: ErrorDetail[]) {
  const byId = new Map(branches.map((branch) => [branch.branch_id, branch]));
  if (byId.size !== branches.length)
    problems.push({ path: 'branches.jsonl', message: 'a branch appears twice' });
  if (!byId.has(run.active_branch_id))
    problems.push({ path: 'run.json.active_branch_id', message: 'no such branch in the archive' });
  const eventsById = new Map(events.map((event) => [event.event_id, event]));
  const created = new Map<string, EventRecord>();
  for (const event of events) {
    const data = eventDataOf(event, 'branch_created');
    if (data) created.set(data.branch_id, event);
  }
  const roots = branches.filter((branch) => branch.parent_branch_id === null);
  if (roots.length !== 1)
    problems.push({ path: 'branches.jsonl', message: `${roots.length} root branches, not one` });
  if (events[0] && roots[0] && events[0].branch_id !== roots[0].branch_id)
    problems.push({ path: 'events.jsonl[0].branch_id', message: 'run_created is not on the root' });
  branches.forEach((branch, index) => {
    const where = `branches.jsonl[${index}]`;
    if (branch.parent_branch_id === null) {
      if (branch.lineage.length > 0 || branch.branch_point_event_id !== null)
        problems.push({ path: where, message: 'a root branch has no lineage or branch point' });
      return;
    }
    checkForkedBranch(branch, where, { byId, eventsById, created }, problems);
  });
}

function checkForkedBranch(
  branch: BranchRecord,
  where: string,
  known: {
    byId: ReadonlyMap<string, BranchRecord>;
    eventsById: ReadonlyMap<string, EventRecord>;
    created: ReadonlyMap<string, EventRecord>;
  },
  problems: ErrorDetail[],
): void {
  if (!branch.parent_branch_id || !known.byId.has(branch.parent_branch_id))
    problems.push({ path: `${where}.parent_branch_id`, message: 'no such branch in the archive' });
  const point = branch.branch_point_event_id
    ? known.eventsById.get(branch.branch_point_event_id)
    : undefined;
  if (!point || point.branch_id !== branch.parent_branch_id)
    problems.push({
      path: `${where}.branch_point_event_id`,
      message: 'must be an event of the parent branch in the archive',
    });
  const last = branch.lineage.at(-1);
  if (
    !last ||
    last.branch_id !== branch.parent_branch_id ||
    (point && last.until_seq !== point.seq)
  )
    problems.push({ path: `${where}.lineage`, message: 'must end at the parent at the fork' });
  for (const ancestor of branch.lineage)
    if (!known.byId.has(ancestor.branch_id))
      problems.push({ path: `${where}.lineage`, message: `${ancestor.branch_id} is not a branch` });
  const event = known.created.get(branch.branch_id);
  const data = event ? eventDataOf(event, 'branch_created') : null;
  if (
    !event ||
    !data ||
    data.parent_branch_id !== branch.parent_branch_id ||
    data.branch_point_event_id !== branch.branch_point_event_id ||
    (data.lineage !== undefined && canonicalJson(data.lineage) !== canonicalJson(branch.lineage))
  )
    problems.push({ path: where, message: 'no branch_created event in the log says this' });
  if (event && event.branch_id !== branch.branch_id)
    problems.push({ path: where, message: 'its branch_created is on another branch' });
}

function checkCommandsAndOutputs(
  { branches, events, commands, tokens, artifacts }: ArchiveDocuments,
  problems: ErrorDetail[],
): void {
  const branchIds = new Set(branches.map((branch) => branch.branch_id));
  const eventIds = new Set(events.map((event) => event.event_id));
  const commandIds = new Set(commands.map((command) => command.command_id));
  if (commandIds.size !== commands.length)
    problems.push({ path: 'commands.jsonl', message: 'a command appears twice' });
  if (new Set(commands.map((command) => command.seq)).size !== commands.length)
    problems.push({ path: 'commands.jsonl', message: 'two commands share a seq' });
  commands.forEach((command, index) => {
    if (command.status === 'pending')
      problems.push({ path: `commands.jsonl[${index}].status`, message: 'a pending command' });
  });
  events.forEach((event, index) => {
    if (event.command_id !== null && !commandIds.has(event.command_id))
      problems.push({
        path: `events.jsonl[${index}].command_id`,
        message: 'no such command in the archive',
      });
  });
  artifacts.forEach((artifact, index) => {
    const where = `artifacts.jsonl[${index}]`;
    if (!branchIds.has(artifact.branch_id))
      problems.push({ path: `${where}.branch_id`, message: 'no such branch in the archive' });
    if (artifact.event_id !== null && !eventIds.has(artifact.event_id))
      problems.push({ path: `${where}.event_id`, message: 'no such event in the archive' });
  });
  if (new Set(artifacts.map((artifact) => artifact.artifact_id)).size !== artifacts.length)
    problems.push({ path: 'artifacts.jsonl', message: 'an artifact appears twice' });
  tokens.forEach((token, index) => {
    if (!branchIds.has(token.branch_id))
      problems.push({
        path: `tokens.jsonl[${index}].branch_id`,
        message: 'no such branch in the archive',
      });
  });
}

/** What a snapshot says about where its branch stands (fields absent in old snapshots as null). */
function standing(snapshot: BranchSnapshot): string {
  return canonicalJson({
    branch_id: snapshot.branch_id,
    version_id: snapshot.version_id,
    as_of_seq: snapshot.as_of_seq,
    state: snapshot.state,
    status: snapshot.status,
    cursor: snapshot.cursor,
    attempt: snapshot.attempt,
    retry_at: snapshot.retry_at,
    open_step: snapshot.open_step,
    pending_interaction: snapshot.pending_interaction,
    error: snapshot.error,
    feedback: snapshot.feedback,
    attempt_key: snapshot.attempt_key ?? null,
    job: snapshot.job ?? null,
    reuse_answers: snapshot.reuse_answers ?? null,
  });
}

function checkReplay({ run, branches, events }: ArchiveDocuments, problems: ErrorDetail[]) {
  const active = branches.find((branch) => branch.branch_id === run.active_branch_id);
  if (!active) return;
  const sees = new Map(active.lineage.map((ancestor) => [ancestor.branch_id, ancestor.until_seq]));
  const visible = events.filter(
    (event) =>
      event.branch_id === active.branch_id || event.seq <= (sees.get(event.branch_id) ?? -1),
  );
  const replayed = replayEvents(active.branch_id, visible, run.initial_version_id);
  if (standing(replayed) !== standing(run.snapshot))
    problems.push({
      path: 'run.json.snapshot',
      message: "replaying the active branch's events does not give the run's state",
    });
  const fields = runFieldsOf(replayed);
  const stated = {
    status: run.status,
    current_step: run.current_step,
    current_module: run.current_module,
    pending_interaction: run.pending_interaction,
    error: run.error,
  };
  if (canonicalJson(fields) !== canonicalJson(stated))
    problems.push({
      path: 'run.json',
      message: "the run's status and position differ from its replayed log",
    });
}
