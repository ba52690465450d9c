import type { Connection } from 'mongoose';
import {
  emptySnapshot,
  eventTypes,
  replayEvents,
  runFieldsOf,
  type EventType,
  type RunStatus,
} from '@stepwise/shared';
import { createModels, ensureIndexes } from '@stepwise/shared/node';
import { derivedId, derivedObjectId } from './deterministic.js';
import type {
  LegacyBranch,
  LegacyEvent,
  LegacyTemplate,
  LegacyVersion,
  LegacyWorkflow,
} from './legacy-records.js';

export interface MigrationOptions {
  dryRun: boolean;
  defaultUsername: string;
  dropLegacy: boolean;
  batchSize: number;
  /** Progress lines go here (stdout in the command). */
  progress: (line: string) => void;
}

export interface MigrationReport {
  dry_run: boolean;
  user: { username: string; user_id: string; created: boolean };
  counts: {
    templates_assigned: number;
    runs_created: number;
    runs_already_migrated: number;
    events_migrated: number;
    events_already_migrated: number;
    branches_migrated: number;
    keyword_history: number;
    option_usage: number;
  };
  orphans: {
    events_without_run: string[];
    runs_without_template: string[];
    runs_without_version: string[];
  };
  legacy_dropped: boolean;
  index_errors: string[];
  changed: boolean;
}

const statusMap: Record<string, RunStatus> = {
  created: 'running',
  processing: 'running',
  awaiting_input: 'awaiting_input',
  completed: 'completed',
  error: 'error',
  cancelled: 'cancelled',
};

const knownTypes = new Set<string>(eventTypes);

function lastSegment(folder: string | null | undefined, fallback: string): string {
  const parts = (folder ?? '').split(/[\\/]+/).filter((part) => part !== '');
  return parts.at(-1) ?? fallback;
}

/** The old log kept a step and module in `data`; the new one has them on the event. */
function stepOf(event: LegacyEvent): string | null {
  return (
    event.step_id ?? (typeof event.data?.['step_id'] === 'string' ? event.data['step_id'] : null)
  );
}

function moduleOf(event: LegacyEvent): string | null {
  return (
    event.module_name ??
    (typeof event.data?.['module_name'] === 'string' ? event.data['module_name'] : null)
  );
}

function byTimeThenId(a: LegacyEvent, b: LegacyEvent): number {
  const time = new Date(a.timestamp).getTime() - new Date(b.timestamp).getTime();
  return time !== 0 ? time : a.event_id < b.event_id ? -1 : a.event_id > b.event_id ? 1 : 0;
}

/**
 * Moves a single-user database to the multi-tenant schema, in place (shared/spec legacy.md). Each
 * step checks what is already done, so a second run changes nothing and a run killed at any point
 * finishes the job when started again; nothing it writes depends on the clock or on chance.
 */
export async function migrateLegacyDatabase(
  connection: Connection,
  options: MigrationOptions,
): Promise<MigrationReport> {
  const db = connection.db;
  if (!db) throw new Error('MongoDB connection is not open');
  const write = !options.dryRun;
  const report: MigrationReport = {
    dry_run: options.dryRun,
    user: { username: options.defaultUsername, user_id: '', created: false },
    counts: {
      templates_assigned: 0,
      runs_created: 0,
      runs_already_migrated: 0,
      events_migrated: 0,
      events_already_migrated: 0,
      branches_migrated: 0,
      keyword_history: 0,
      option_usage: 0,
    },
    orphans: { events_without_run: [], runs_without_template: [], runs_without_version: [] },
    legacy_dropped: false,
    index_errors: [],
    changed: false,
  };
  // Untyped handles: the documents change shape under the migration's hands.
  const templatesCollection = db.collection('workflow_templates');
  const versionsCollection = db.collection('workflow_versions');
  const legacyRuns = db.collection('workflows');
  const eventsCollection = db.collection('events');
  const branchesCollection = db.collection('branches');
  const runsCollection = db.collection('workflow_runs');

  // 1. The default user, and every template given to it.
  const users = db.collection('users');
  const existingUser = await users.findOne({ username: options.defaultUsername });
  const templates = (await templatesCollection.find().toArray()) as unknown as LegacyTemplate[];
  const earliest = templates.reduce<Date>(
    (min, t) => (t.created_at && t.created_at < min ? t.created_at : min),
    new Date('2100-01-01'),
  );
  const userCreated = templates.length > 0 ? earliest : new Date(0);
  const userId =
    (existingUser?.['user_id'] as string | undefined) ??
    derivedId('usr', 'migrated-user', options.defaultUsername);
  report.user = { username: options.defaultUsername, user_id: userId, created: !existingUser };
  if (!existingUser && write) {
    await users.insertOne({
      _id: derivedObjectId('user', options.defaultUsername),
      user_id: userId,
      username: options.defaultUsername,
      email: `${options.defaultUsername}@localhost`,
      created_at: userCreated,
      updated_at: userCreated,
    });
  }
  const unassigned = templates.filter((template) => !template.user_id);
  report.counts.templates_assigned = unassigned.length;
  if (write && unassigned.length > 0) {
    await templatesCollection.updateMany(
      { user_id: { $exists: false } },
      { $set: { user_id: userId, display_name: null, updated_at: userCreated } },
    );
    await templatesCollection.updateMany(
      { user_id: null },
      { $set: { user_id: userId, display_name: null, updated_at: userCreated } },
    );
  }
  // Versions carry their owner too (the API reads them by user).
  if (write)
    await versionsCollection.updateMany(
      { user_id: { $exists: false } },
      {
        $set: {
          user_id: userId,
          raw_sha256: '',
          size: 0,
          source_file_id: null,
          resolved_workflow_ref: null,
        },
      },
    );
  options.progress(
    `user ${options.defaultUsername} (${userId}); ${unassigned.length} templates assigned`,
  );

  const templateById = new Map(
    templates.map((template) => [template.workflow_template_id, template]),
  );
  const versions = (await versionsCollection.find().toArray()) as unknown as LegacyVersion[];
  const versionsByTemplate = new Map<string, LegacyVersion[]>();
  for (const version of versions) {
    const list = versionsByTemplate.get(version.workflow_template_id) ?? [];
    list.push(version);
    versionsByTemplate.set(version.workflow_template_id, list);
  }
  const versionIds = new Set(versions.map((version) => version.workflow_version_id));

  /** The run's recorded version, else the template's newest at or before the run, else its oldest. */
  const versionOf = (run: LegacyWorkflow): string | null => {
    if (run.current_workflow_version_id && versionIds.has(run.current_workflow_version_id))
      return run.current_workflow_version_id;
    const candidates = [...(versionsByTemplate.get(run.workflow_template_id) ?? [])].sort(
      (a, b) => (a.created_at?.getTime() ?? 0) - (b.created_at?.getTime() ?? 0),
    );
    const created = run.created_at?.getTime() ?? Number.POSITIVE_INFINITY;
    const before = candidates.filter((version) => (version.created_at?.getTime() ?? 0) <= created);
    return (before.at(-1) ?? candidates[0])?.workflow_version_id ?? null;
  };

  // Lookups by run, on collections that have none of the new indexes yet. Temporary: dropped at
  // the end (a killed run leaves them, and the next one drops them).
  const temporaryIndexes: [string, Record<string, 1>][] = [
    ['events', { workflow_id: 1 }],
    ['events', { workflow_run_id: 1 }],
    ['branches', { workflow_id: 1 }],
    ['branches', { workflow_run_id: 1 }],
    ['workflow_runs', { workflow_run_id: 1 }],
  ];
  if (write) {
    for (const [collection, keys] of temporaryIndexes)
      await db
        .collection(collection)
        .createIndex(keys, { name: `migration_${Object.keys(keys).join('_')}` });
  }

  // 2 and 3. Runs, in batches: their events (seq, version, new names), branches, and the run.
  const legacyRunIds = new Set<string>();
  const total = await legacyRuns.countDocuments();
  let done = 0;
  // A page of runs at a time, with all their events and branches fetched in a few queries: per-run
  // lookups would cost one scan of the log each on a server that cannot use an index for them.
  const groupBy = <T extends { workflow_id?: string; workflow_run_id?: string }>(
    documents: T[],
  ) => {
    const groups = new Map<string, T[]>();
    for (const document of documents) {
      const key = document.workflow_id ?? document.workflow_run_id ?? '';
      groups.set(key, [...(groups.get(key) ?? []), document]);
    }
    return groups;
  };
  let lastRunId = '';
  for (;;) {
    const page = (await legacyRuns
      .find({ workflow_id: { $gt: lastRunId } })
      .sort({ workflow_id: 1 })
      .limit(options.batchSize)
      .toArray()) as unknown as LegacyWorkflow[];
    if (page.length === 0) break;
    lastRunId = page.at(-1)?.workflow_id ?? lastRunId;
    const ids = page.map((run) => run.workflow_id);
    const migrated = new Set(
      (
        await runsCollection
          .find({ workflow_run_id: { $in: ids } }, { projection: { workflow_run_id: 1 } })
          .toArray()
      ).map((run) => String(run['workflow_run_id'])),
    );
    const eventsByRun = groupBy([
      ...((await eventsCollection
        .find({ workflow_id: { $in: ids } })
        .toArray()) as unknown as LegacyEvent[]),
      ...((await eventsCollection
        .find({ workflow_run_id: { $in: ids }, workflow_id: { $exists: false } })
        .toArray()) as unknown as LegacyEvent[]),
    ]);
    const branchesByRun = groupBy([
      ...((await branchesCollection
        .find({ workflow_id: { $in: ids } })
        .toArray()) as unknown as LegacyBranch[]),
      ...((await branchesCollection
        .find({ workflow_run_id: { $in: ids }, workflow_id: { $exists: false } })
        .toArray()) as unknown as LegacyBranch[]),
    ]);
    for (const legacy of page) {
      legacyRunIds.add(legacy.workflow_id);
      done++;
      const runId = legacy.workflow_id;
      const template = templateById.get(legacy.workflow_template_id);
      if (!template) {
        report.orphans.runs_without_template.push(runId);
        continue;
      }
      const versionId = versionOf(legacy);
      if (!versionId) {
        report.orphans.runs_without_version.push(runId);
        continue;
      }
      if (migrated.has(runId)) {
        report.counts.runs_already_migrated++;
        continue;
      }

      const events = [...(eventsByRun.get(runId) ?? [])].sort(byTimeThenId);
      const seqById = new Map(events.map((event, index) => [event.event_id, index + 1]));
      const correlationId = derivedId('corr', 'migrated', runId);
      const operations = events.map((event, index) => ({
        updateOne: {
          filter: { _id: event._id as never },
          update: {
            $set: {
              workflow_run_id: runId,
              workflow_version_id: versionId,
              seq: index + 1,
              step_id: stepOf(event),
              module_name: moduleOf(event),
              data: event.data ?? {},
              correlation_id: correlationId,
              command_id: null,
            },
            $unset: { workflow_id: '' },
          },
        },
      }));
      const alreadyDone = events.filter(
        (event) => event.workflow_run_id === runId && event.workflow_id === undefined,
      ).length;
      report.counts.events_already_migrated += alreadyDone;
      report.counts.events_migrated += events.length - alreadyDone;
      if (write && operations.length > 0) {
        for (let i = 0; i < operations.length; i += 1_000)
          await eventsCollection.bulkWrite(operations.slice(i, i + 1_000), { ordered: false });
      }

      // Branches: the new names, and each one's lineage from its parent chain.
      const legacyBranches = branchesByRun.get(runId) ?? [];
      const knownBranches = new Map(legacyBranches.map((branch) => [branch.branch_id, branch]));
      for (const event of events) {
        if (!knownBranches.has(event.branch_id)) {
          // Events on a branch the old database never recorded: it becomes a root branch.
          knownBranches.set(event.branch_id, {
            _id: derivedObjectId('branch', runId, event.branch_id),
            branch_id: event.branch_id,
            workflow_run_id: runId,
            parent_branch_id: null,
            branch_point_event_id: null,
            status: 'inactive',
            created_at: event.timestamp,
          });
        }
      }
      const lineageOf = (
        branchId: string,
        seen = new Set<string>(),
      ): { branch_id: string; until_seq: number }[] => {
        const branch = knownBranches.get(branchId);
        if (
          !branch?.parent_branch_id ||
          seen.has(branchId) ||
          !knownBranches.has(branch.parent_branch_id)
        )
          return [];
        seen.add(branchId);
        const until = branch.branch_point_event_id
          ? (seqById.get(branch.branch_point_event_id) ?? 0)
          : 0;
        return [
          ...lineageOf(branch.parent_branch_id, seen),
          { branch_id: branch.parent_branch_id, until_seq: until },
        ];
      };
      const ordered = [...knownBranches.values()].sort(
        (a, b) =>
          (a.created_at?.getTime() ?? 0) - (b.created_at?.getTime() ?? 0) ||
          (a.branch_id < b.branch_id ? -1 : 1),
      );
      const active =
        [...ordered].reverse().find((branch) => branch.status === 'active') ??
        ordered.at(-1) ??
        null;
      const activeBranchId = active?.branch_id ?? derivedId('br', 'root', runId);
      for (const branch of ordered) {
        if (write) {
          await branchesCollection.updateOne(
            { _id: branch._id as never },
            {
              $set: {
                branch_id: branch.branch_id,
                workflow_run_id: runId,
                parent_branch_id: branch.parent_branch_id ?? null,
                branch_point_event_id: branch.branch_point_event_id ?? null,
                lineage: lineageOf(branch.branch_id),
                status: branch.branch_id === activeBranchId ? 'active' : 'inactive',
                created_at: branch.created_at ?? legacy.created_at ?? new Date(0),
              },
              $unset: { workflow_id: '' },
            },
            { upsert: true },
          );
        }
        report.counts.branches_migrated++;
      }

      // The run: its active branch's state folded from the events that branch sees.
      const lineage = lineageOf(activeBranchId);
      const visible = events
        .filter(
          (event) =>
            event.branch_id === activeBranchId ||
            lineage.some(
              (ancestor) =>
                ancestor.branch_id === event.branch_id &&
                (seqById.get(event.event_id) ?? 0) <= ancestor.until_seq,
            ),
        )
        .filter((event) => knownTypes.has(event.event_type))
        .map((event) => ({
          event_type: event.event_type as EventType,
          step_id: stepOf(event),
          module_name: moduleOf(event),
          data: event.data ?? {},
          seq: seqById.get(event.event_id) ?? 0,
        }));
      const snapshot =
        visible.length > 0
          ? { ...replayEvents(activeBranchId, visible, versionId), version_id: versionId }
          : emptySnapshot(activeBranchId, versionId);
      const fields = runFieldsOf(snapshot);
      const created = legacy.created_at ?? events[0]?.timestamp ?? new Date(0);
      const initialState = events.find((event) => event.event_type === 'run_created')?.data?.[
        'initial_state'
      ];
      const status = statusMap[legacy.status] ?? 'error';
      if (write) {
        await runsCollection.insertOne({
          _id: derivedObjectId('run', runId),
          workflow_run_id: runId,
          workflow_template_id: template.workflow_template_id,
          workflow_template_name: template.workflow_template_name,
          user_id: userId,
          initial_version_id: versionId,
          current_version_id: versionId,
          project_name: lastSegment(legacy.project_folder, runId),
          initial_state:
            typeof initialState === 'object' && initialState !== null ? initialState : {},
          // The old status is the record of what users saw; `processing` and `created` are `running`.
          status,
          current_step: fields.current_step ?? legacy.current_step ?? null,
          current_module: fields.current_module,
          pending_interaction: status === 'awaiting_input' ? fields.pending_interaction : null,
          error:
            status === 'error'
              ? (fields.error ?? {
                  code: 'LEGACY_ERROR',
                  message: 'the run failed before migration',
                })
              : null,
          active_branch_id: activeBranchId,
          last_seq: events.length,
          command_seq: 0,
          applied_command_seq: 0,
          command_accepted_at: null,
          last_rejection: null,
          snapshot: { ...snapshot, status },
          outbox: [],
          created_at: created,
          updated_at: legacy.updated_at ?? created,
        });
      }
      report.counts.runs_created++;
      if (done % options.batchSize === 0 || done === total)
        options.progress(
          `runs ${done}/${total}, events ${report.counts.events_migrated + report.counts.events_already_migrated}`,
        );
    }
  }

  // Events whose run does not exist: reported, left as they are.
  const migratedRunIds = new Set(await runsCollection.distinct('workflow_run_id'));
  const strayIds = (await eventsCollection
    .find({ workflow_id: { $exists: true } }, { projection: { event_id: 1, workflow_id: 1 } })
    .toArray()) as unknown as { event_id: string; workflow_id?: string }[];
  for (const stray of strayIds) {
    if (!legacyRunIds.has(stray.workflow_id ?? '') && !migratedRunIds.has(stray.workflow_id ?? ''))
      report.orphans.events_without_run.push(stray.event_id);
  }

  report.counts.keyword_history = await db.collection('keyword_history').countDocuments();
  report.counts.option_usage = await db.collection('option_usage').countDocuments();

  // 4. Indexes, once every document has its new fields. One that cannot be built (orphans left
  // as they were may collide on it) is reported, not fatal.
  if (write) {
    for (const [collection, keys] of temporaryIndexes) {
      await db
        .collection(collection)
        .dropIndex(`migration_${Object.keys(keys).join('_')}`)
        .catch(() => undefined);
    }
    try {
      await ensureIndexes(createModels(connection));
    } catch (error) {
      report.index_errors.push((error as Error).message);
    }
  }

  report.changed =
    report.user.created ||
    report.counts.templates_assigned > 0 ||
    report.counts.runs_created > 0 ||
    report.counts.events_migrated > 0;
  const verified =
    report.counts.runs_created + report.counts.runs_already_migrated ===
    total -
      report.orphans.runs_without_template.length -
      report.orphans.runs_without_version.length;
  if (options.dropLegacy && write) {
    if (!verified) throw new Error('not every run was migrated; the legacy collection is kept');
    // Runs it could not map exist only in the old collection: dropping it would lose them.
    const unmapped =
      report.orphans.runs_without_template.length + report.orphans.runs_without_version.length;
    if (unmapped > 0) {
      options.progress(
        `--drop-legacy: ${unmapped} unmapped runs live only in \`workflows\`; it is kept until they are dealt with`,
      );
      return report;
    }
    await db
      .collection('workflows')
      .drop()
      .catch(() => undefined);
    report.legacy_dropped = true;
  }
  options.progress(
    report.changed
      ? 'migration complete'
      : 'nothing to migrate: the database is already on the new schema',
  );
  return report;
}
