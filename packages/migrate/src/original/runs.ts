import type { mongo } from 'mongoose';
import { versionForRun, type MigratedCatalog } from './catalog.js';
import { buildRun } from './run-builder.js';
import type { MigratedRunFacts } from './run-facts.js';
import {
  runIdOf,
  type OriginalBranch,
  type OriginalEvent,
  type OriginalGeneration,
  type OriginalRun,
} from './source-records.js';
import { insertOnce } from './target-writes.js';
import { dateOf } from './dates.js';

/**
 * Every run with its log and branches, a page at a time (docs/migration-original.md, "Runs").
 * A run's document is written last, after its events and branches: a run whose document exists is
 * done, and a run without one is written again whole on the next pass (what is already there is
 * skipped by its derived `_id`).
 */

export interface RunsReport {
  runs: number;
  runs_already_migrated: number;
  events: number;
  branches: number;
  /** Original event types kept verbatim as `legacy_event`, counted by type. */
  kept_event_types: Record<string, number>;
  /** Runs whose cached status disagreed with their log (the log wins while the run is in flight). */
  status_disagreements: { workflow_run_id: string; what: string }[];
  runs_without_template: string[];
  runs_without_version: string[];
  runs_without_owner: string[];
  /** Sub-action child runs (`wf_sub_…`): migrated as runs of their parent's user and template. */
  sub_action_runs: number;
  /** Runs left `running` (the original had them in flight, not waiting): runners go on with them. */
  running: number;
  /** Runs that could not be built (an odd document), with why: the others are migrated. */
  failed: { workflow_run_id: string; error: string }[];
  /** Events without a string `event_id`: they have no place in the log's order (source `_id`s). */
  events_without_id: string[];
  /** Run documents the pages never reached (no string run id): counted, not migrated. */
  runs_not_read: number;
}

function lastSegment(path: unknown): string | null {
  if (typeof path !== 'string') return null;
  const parts = path.split(/[\\/]+/).filter((part) => part !== '');
  return parts.at(-1) ?? null;
}

export interface RunPassOptions {
  generation: OriginalGeneration;
  defaultUserId: string | null;
  userIds: ReadonlySet<string>;
  catalog: MigratedCatalog;
  pageSize: number;
  progress: (line: string) => void;
}

export async function migrateRuns(
  source: mongo.Db,
  target: mongo.Db,
  options: RunPassOptions,
): Promise<{ report: RunsReport; runOwners: ReadonlyMap<string, MigratedRunFacts> }> {
  const report: RunsReport = {
    runs: 0,
    runs_already_migrated: 0,
    events: 0,
    branches: 0,
    kept_event_types: {},
    status_disagreements: [],
    runs_without_template: [],
    runs_without_version: [],
    runs_without_owner: [],
    sub_action_runs: 0,
    running: 0,
    failed: [],
    events_without_id: [],
    runs_not_read: 0,
  };
  const runField = options.generation === 'multi-user' ? 'workflow_run_id' : 'workflow_id';
  const runsCollection = source.collection(
    options.generation === 'multi-user' ? 'workflow_runs' : 'workflows',
  );
  const total = await runsCollection.countDocuments();
  const facts = new Map<string, MigratedRunFacts>();
  const targetRuns = target.collection('workflow_runs');
  let lastId = '';
  let done = 0;
  for (;;) {
    const page = (await runsCollection
      .find({ [runField]: { $gt: lastId } })
      .sort({ [runField]: 1 })
      .limit(options.pageSize)
      .toArray()) as unknown as OriginalRun[];
    if (page.length === 0) break;
    const ids = page.map(runIdOf);
    lastId = ids.at(-1) ?? lastId;
    // Ranges of run ids, not `$in` lists: a page is a contiguous range of the source's ids, a range
    // walks the run-id index on MongoDB, and a server without one (the stand-in) compares each
    // document twice instead of against every id of the page.
    const range = { $gte: ids[0], $lte: lastId };
    const wanted = new Set(ids);
    const already = (
      await targetRuns
        .find(
          { workflow_run_id: range },
          {
            projection: {
              workflow_run_id: 1,
              user_id: 1,
              workflow_template_id: 1,
              current_version_id: 1,
              project_name: 1,
              active_branch_id: 1,
            },
          },
        )
        .toArray()
    ).filter((run) => wanted.has(String(run['workflow_run_id'])));
    for (const run of already)
      facts.set(String(run['workflow_run_id']), {
        userId: String(run['user_id']),
        templateId: String(run['workflow_template_id']),
        versionId: String(run['current_version_id']),
        projectName: String(run['project_name']),
        branchId: String(run['active_branch_id']),
      });
    const alreadyIds = new Set(already.map((run) => String(run['workflow_run_id'])));
    const pending = ids.filter((id) => !alreadyIds.has(id));
    const [events, branches] =
      pending.length === 0
        ? [[], []]
        : await Promise.all([
            source
              .collection('events')
              .find({ [runField]: range })
              .toArray() as unknown as Promise<OriginalEvent[]>,
            source
              .collection('branches')
              .find({ [runField]: range })
              .toArray() as unknown as Promise<OriginalBranch[]>,
          ]);
    const eventsByRun = groupByRun(events);
    const branchesByRun = groupByRun(branches);

    const runDocuments: mongo.Document[] = [];
    const eventDocuments: mongo.Document[] = [];
    const branchDocuments: mongo.Document[] = [];
    for (const original of page) {
      done++;
      const runId = runIdOf(original);
      if (alreadyIds.has(runId)) {
        report.runs_already_migrated++;
        continue;
      }
      const parent = original.parent_workflow_id
        ? facts.get(original.parent_workflow_id)
        : undefined;
      const runEvents = eventsByRun.get(runId) ?? [];
      const created = runEvents.find((event) => event.event_type === 'workflow_created')?.data;
      const templateId =
        original.workflow_template_id ??
        (typeof created?.['workflow_template_id'] === 'string'
          ? created['workflow_template_id']
          : null) ??
        parent?.templateId ??
        null;
      const template = templateId ? options.catalog.templates.get(templateId) : undefined;
      if (!templateId || !template) {
        report.runs_without_template.push(runId);
        continue;
      }
      const userId =
        options.defaultUserId ??
        (original.user_id && options.userIds.has(original.user_id) ? original.user_id : null) ??
        parent?.userId ??
        null;
      if (!userId) {
        report.runs_without_owner.push(runId);
        continue;
      }
      const versionId =
        versionForRun(
          options.catalog,
          templateId,
          original.current_workflow_version_id ??
            (typeof created?.['version_id'] === 'string' ? created['version_id'] : null) ??
            parent?.versionId,
          dateOf(original.created_at),
        ) ?? null;
      if (!versionId) {
        report.runs_without_version.push(runId);
        continue;
      }
      const projectName =
        (typeof original.project_name === 'string' && original.project_name !== ''
          ? original.project_name
          : null) ??
        lastSegment(original.project_path ?? original.project_folder) ??
        (parent ? `${parent.projectName} (sub-action ${runId})` : runId);
      if (parent) report.sub_action_runs++;
      const usable = runEvents.filter((event) => {
        if (typeof event.event_id === 'string') return true;
        report.events_without_id.push(String(event._id));
        return false;
      });
      let built: ReturnType<typeof buildRun>;
      try {
        built = buildRun(original, usable, branchesByRun.get(runId) ?? [], {
          userId,
          templateId,
          templateName: template.name,
          versionId,
          knownVersionIds: options.catalog.versionIds,
          projectName,
          settled: Boolean(original.parent_workflow_id),
          moved: options.catalog.moves.get(versionId) ?? [],
        });
      } catch (error) {
        // One odd run must not stop the other thousands: it is reported, and the next pass tries
        // it again (nothing of it was written).
        report.failed.push({ workflow_run_id: runId, error: (error as Error).message });
        continue;
      }
      facts.set(runId, {
        userId,
        templateId,
        versionId,
        projectName,
        branchId: built.run.active_branch_id,
      });
      runDocuments.push(built.run);
      eventDocuments.push(...built.events);
      branchDocuments.push(...built.branches);
      report.runs++;
      if (built.run.status === 'running') report.running++;
      report.events += built.events.length;
      report.branches += built.branches.length;
      for (const [type, count] of Object.entries(built.keptTypes))
        report.kept_event_types[type] = (report.kept_event_types[type] ?? 0) + count;
      if (built.statusDisagreement)
        report.status_disagreements.push({
          workflow_run_id: runId,
          what: built.statusDisagreement,
        });
    }
    await insertOnce(target.collection('events'), eventDocuments);
    await insertOnce(target.collection('branches'), branchDocuments);
    await insertOnce(targetRuns, runDocuments);
    options.progress(`runs ${done}/${total}, events ${report.events}`);
  }
  report.runs_not_read = Math.max(0, total - done);
  return { report, runOwners: facts };
}

function groupByRun<T extends { workflow_run_id?: string; workflow_id?: string }>(
  documents: readonly T[],
): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const document of documents) {
    const key = runIdOf(document);
    const group = groups.get(key);
    if (group) group.push(document);
    else groups.set(key, [document]);
  }
  return groups;
}
