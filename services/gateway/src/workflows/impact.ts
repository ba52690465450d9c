import type { Connection } from 'mongoose';
import {
  NotFoundError,
  canonicalJson,
  unfinishedRunStatusSchema,
  type ImpactQuery,
  type ImpactReport,
  type PendingInteraction,
  type RunImpact,
  type RunStatus,
  type VersionChangeView,
  type WorkflowDefinition,
} from '@stepwise/shared';
import {
  VersionChangeViews,
  positionOf,
  type LoadedVersion,
  type Models,
} from '@stepwise/shared/node';
import { afterTimeCursor, decodeTimeCursor, encodeTimeCursor } from '../http/page-cursor.js';
import { findTemplate } from './templates.js';

/**
 * `GET /v1/templates/{name}/versions/{version_id}/impact` (versions.md, "Impact report"): the
 * caller's unfinished runs of a template that stand on another version, each with what moving onto
 * that version would do to it. A page costs one diff per distinct (version, position) on it, not
 * one per run: runs waiting at the same question of the same version share their answer.
 */

export interface ImpactDependencies {
  mongo: Connection;
  models: Models;
}

/** What the report reads of a run: no snapshot, outbox or rendered request (they can be large). */
interface ImpactRunRow {
  workflow_run_id: string;
  status: RunStatus;
  project_name: string;
  current_version_id: string;
  current_step: string | null;
  current_module: string | null;
  /** Only the pending module's identity is read (so a run with none may show no field at all). */
  pending_interaction?: Partial<Pick<PendingInteraction, 'step_id' | 'module_name'>> | null;
  created_at: Date;
  updated_at: Date;
}

type PendingModule = Pick<PendingInteraction, 'step_id' | 'module_name'>;

const impactRunProjection = {
  _id: 0,
  workflow_run_id: 1,
  status: 1,
  project_name: 1,
  current_version_id: 1,
  current_step: 1,
  current_module: 1,
  'pending_interaction.step_id': 1,
  'pending_interaction.module_name': 1,
  created_at: 1,
  updated_at: 1,
} as const;

const unfinishedStatuses = unfinishedRunStatusSchema.options;

/** The parts of a module that its rendered request is made from. */
function requestSource(module: WorkflowDefinition['steps'][number]['modules'][number]): string {
  return canonicalJson({
    module_id: module.module_id,
    inputs: module.inputs,
    display: module.display ?? null,
  });
}

/**
 * Whether the pending question may be asked differently on the target version. Rendering it again
 * needs the runner (modules, Liquid, history), so this judges by what the request is made from:
 * the same module definition and config with the same run state render the same request.
 */
function pendingRequestChanges(
  pending: PendingModule,
  current: LoadedVersion,
  target: LoadedVersion,
): boolean {
  const before = current.plan.find(pending.step_id, pending.module_name);
  const after = target.plan.find(pending.step_id, pending.module_name);
  if (!before || !after) return true;
  return (
    current.configText !== target.configText ||
    requestSource(before.module) !== requestSource(after.module)
  );
}

function pendingModuleOf(run: ImpactRunRow): PendingModule | null {
  const pending = run.pending_interaction;
  return pending?.step_id && pending.module_name
    ? { step_id: pending.step_id, module_name: pending.module_name }
    : null;
}

function countByRelation(view: VersionChangeView): RunImpact['counts'] {
  const counts = { before: 0, at: 0, after: 0 };
  for (const change of view.changes.modules) counts[change.relation] += 1;
  return counts;
}

/** The runs of the page, newest first, and whether more follow. */
async function readPage(
  deps: ImpactDependencies,
  filter: Record<string, unknown>,
  query: Pick<ImpactQuery, 'limit' | 'cursor'>,
): Promise<{ runs: ImpactRunRow[]; more: boolean }> {
  const paged = { ...filter };
  if (query.cursor)
    Object.assign(paged, afterTimeCursor(decodeTimeCursor(query.cursor, 'run'), 'workflow_run_id'));
  const rows = await deps.models.runs
    .find(paged)
    .select(impactRunProjection)
    .sort({ created_at: -1, workflow_run_id: -1 })
    .limit(query.limit + 1)
    .lean<ImpactRunRow[]>();
  return { runs: rows.slice(0, query.limit), more: rows.length > query.limit };
}

export async function impactReport(
  deps: ImpactDependencies,
  userId: string,
  templateName: string,
  targetVersionId: string,
  query: ImpactQuery,
): Promise<ImpactReport> {
  const template = await findTemplate(deps.models, userId, templateName);
  const targetRecord = await deps.models.versions
    .findOne({
      workflow_version_id: targetVersionId,
      user_id: userId,
      workflow_template_id: template.workflow_template_id,
    })
    .select({ _id: 1 })
    .lean();
  if (!targetRecord) throw new NotFoundError('version', targetVersionId);
  const empty: ImpactReport = {
    workflow_template_name: template.workflow_template_name,
    version_id: targetVersionId,
    items: [],
    next_cursor: null,
  };
  // Runs already on the target are not touched by it, whatever the filter asks.
  if (query.current_version_id === targetVersionId) {
    if (query.cursor) decodeTimeCursor(query.cursor, 'run');
    return empty;
  }

  const filter: Record<string, unknown> = {
    user_id: userId,
    workflow_template_id: template.workflow_template_id,
    status: query.status ?? { $in: unfinishedStatuses },
    current_version_id: query.current_version_id ?? { $ne: targetVersionId },
  };
  if (query.project_name) filter['project_name'] = query.project_name;
  const { runs, more } = await readPage(deps, filter, query);
  if (runs.length === 0) return empty;

  const views = new VersionChangeViews(deps, userId, targetVersionId);
  await views.load(runs.map((run) => run.current_version_id));
  const target = views.version(targetVersionId);

  const requestChanges = new Map<string, boolean>();
  const requestChangesFor = (
    run: ImpactRunRow,
    pending: PendingModule,
    current: LoadedVersion,
  ): boolean => {
    const key = [run.current_version_id, pending.step_id, pending.module_name].join('\u0000');
    let changes = requestChanges.get(key);
    if (changes === undefined) {
      changes = pendingRequestChanges(pending, current, target);
      requestChanges.set(key, changes);
    }
    return changes;
  };

  const items = runs.map((run): RunImpact => {
    // A run's version is its owner's; one missing is as missing as in GET /runs/{id}/version-changes.
    const current = views.version(run.current_version_id);
    const view = views.viewFor(run);
    const pending = pendingModuleOf(run);
    return {
      workflow_run_id: run.workflow_run_id,
      status: unfinishedRunStatusSchema.parse(run.status),
      project_name: run.project_name,
      current_version_id: run.current_version_id,
      position: positionOf(run),
      counts: countByRelation(view),
      changes: view.changes,
      behind_position: view.behind_position,
      continue_without_restart: view.changes.position_exists && view.behind_position.length === 0,
      options: view.options,
      suggested_restart_at: view.suggested_restart_at,
      warning: view.warning,
      pending_request_changes: pending ? requestChangesFor(run, pending, current) : null,
      created_at: run.created_at.toISOString(),
      updated_at: run.updated_at.toISOString(),
    };
  });
  const last = runs.at(-1);
  return {
    ...empty,
    items,
    next_cursor:
      more && last
        ? encodeTimeCursor({ createdAt: last.created_at, id: last.workflow_run_id })
        : null,
  };
}
