import type { Connection } from 'mongoose';
import { canonicalJson } from '../canonical-json.js';
import { NotFoundError } from '../errors.js';
import type { Models } from '../models/index.js';
import { readResolvedWorkflow } from '../models/workflow-storage.js';
import { WorkflowPlan } from '../runs/plan.js';
import { describeVersionChange, type VersionChangeView } from '../runs/version-change-view.js';
import { workflowDefinitionSchema, type WorkflowDefinition } from '../workflow/definition.js';

/** A version's workflow with its plan, read once however many runs stand on it. */
export interface LoadedVersion {
  workflow: WorkflowDefinition;
  plan: WorkflowPlan;
  /** The workflow's config as canonical JSON: templates read it, so it shapes every request. */
  configText: string;
}

/** What a version change view is computed from: a run's version and position. */
export interface RunPlacement {
  current_version_id: string;
  current_step: string | null;
  current_module: string | null;
}

export function positionOf(
  run: Pick<RunPlacement, 'current_step' | 'current_module'>,
): { step_id: string; module_name: string } | null {
  return run.current_step && run.current_module
    ? { step_id: run.current_step, module_name: run.current_module }
    : null;
}

/**
 * The version change views of many runs against one target version (the impact report, batch
 * migrations). One diff per distinct (version, position), not one per run: runs waiting at the same
 * question of the same version share it. Versions are read only for `userId`.
 */
export class VersionChangeViews {
  private readonly versions = new Map<string, LoadedVersion>();
  private readonly views = new Map<string, VersionChangeView>();

  constructor(
    private readonly deps: { mongo: Connection; models: Models },
    private readonly userId: string,
    readonly targetVersionId: string,
  ) {}

  /** Reads the versions not read yet (and the target). */
  async load(versionIds: Iterable<string>): Promise<void> {
    const missing = [...new Set([this.targetVersionId, ...versionIds])].filter(
      (id) => !this.versions.has(id),
    );
    if (missing.length === 0) return;
    const records = await this.deps.models.versions
      .find({ workflow_version_id: { $in: missing }, user_id: this.userId })
      .lean();
    await Promise.all(
      records.map(async (record) => {
        const workflow = workflowDefinitionSchema.parse(
          await readResolvedWorkflow(this.deps.mongo, record),
        );
        this.versions.set(record.workflow_version_id, {
          workflow,
          plan: new WorkflowPlan(workflow),
          configText: canonicalJson(workflow.config),
        });
      }),
    );
  }

  /** A loaded version; a version that is not the user's is as missing as one that does not exist. */
  version(versionId: string): LoadedVersion {
    const loaded = this.versions.get(versionId);
    if (!loaded) throw new NotFoundError('version', versionId);
    return loaded;
  }

  /** The run against the target, as `GET /runs/{id}/version-changes` shows it (load first). */
  viewFor(run: RunPlacement): VersionChangeView {
    const position = positionOf(run);
    const key = [run.current_version_id, position?.step_id ?? '', position?.module_name ?? ''].join(
      '\u0000',
    );
    let view = this.views.get(key);
    if (!view) {
      view = describeVersionChange({
        current: this.version(run.current_version_id).workflow,
        submitted: this.version(this.targetVersionId).workflow,
        currentVersionId: run.current_version_id,
        submittedVersionId: this.targetVersionId,
        position,
      });
      this.views.set(key, view);
    }
    return view;
  }
}
