import { z } from 'zod';
import type { WorkflowDefinition } from '../workflow/definition.js';
import { WorkflowPlan } from './plan.js';
import { diffVersions, versionChangesSchema, type VersionChanges } from './version-diff.js';

/** The ways a run can meet another version of its template (`POST /runs/{id}/resume/confirm`). */
export const resumeChoiceSchema = z.enum([
  'restart_at',
  'continue_with_new',
  'continue_with_original',
  'start_fresh',
]);
export type ResumeChoice = z.infer<typeof resumeChoiceSchema>;

export const behindPositionChangeSchema = z.object({
  step_id: z.string(),
  module_name: z.string(),
  change: z.enum(['added', 'removed', 'changed']),
  /** What `continue_with_new` does about it, in plain words. */
  message: z.string(),
});

/**
 * What a person needs to choose how a run meets another version: the changes placed against the
 * run's position with their text, the ones `continue_with_new` would not apply because the run is
 * past them, and the step to restart at to apply them. It is the `details` of `VERSION_MISMATCH`
 * and the body of `GET /runs/{id}/version-changes`, so the API, the CLI and the app say the same.
 */
export const versionChangeViewSchema = z
  .object({
    current_version: z.string(),
    submitted_version: z.string(),
    /** In the order to offer them: `restart_at` first when a change lies behind the position. */
    options: z.array(resumeChoiceSchema),
    changes: versionChangesSchema,
    behind_position: z.array(behindPositionChangeSchema),
    /** The step holding the earliest change behind the position (a step of the submitted version). */
    suggested_restart_at: z.string().nullable(),
    /** Present when something lies behind the position or the position is gone. */
    warning: z.string().nullable(),
  })
  .meta({ id: 'VersionChangeView' });
export type VersionChangeView = z.infer<typeof versionChangeViewSchema>;

function behindMessage(change: VersionChanges['modules'][number]): string {
  const where = `${change.step_id}.${change.module_name}`;
  if (change.change === 'added')
    return `${where} is new and comes before the run's position: continuing with the new version will not run it`;
  if (change.change === 'removed')
    return `${where} was removed, but the run has passed it: what it did stays in the run's state`;
  return `${where} changed (${change.fields.join(', ')}) and the run has passed it: continuing with the new version will not run it again`;
}

/** A change that only moves a module among its step's modules alters nothing the run did. */
function altersWork(change: VersionChanges['modules'][number]): boolean {
  return change.change !== 'changed' || change.fields.some((field) => field !== 'order');
}

/**
 * The step to restart at to apply every change behind the position: the earliest, in the
 * submitted version's order, of the steps holding one (a removed module counts by its step, if
 * the submitted version still has that step).
 */
function earliestStep(behind: VersionChanges['modules'], plan: WorkflowPlan): string | null {
  let best: { step: string; index: number } | null = null;
  for (const change of behind) {
    const first = plan.firstOfStep(change.step_id);
    if (!first) continue;
    const index = plan.indexOf(first.step.step_id, first.module.name);
    if (!best || index < best.index) best = { step: change.step_id, index };
  }
  return best?.step ?? null;
}

/**
 * Where a run whose module the submitted version dropped would carry on: its own step if that is
 * still there (the step's other modules run), else the first step after it, in the run's version,
 * that the submitted version still has (else the last one before it).
 */
function nextSurvivingStep(
  current: WorkflowDefinition,
  submitted: WorkflowDefinition,
  stepId: string,
): string | null {
  const kept = new Set(submitted.steps.map((step) => step.step_id));
  if (kept.has(stepId)) return stepId;
  const at = current.steps.findIndex((step) => step.step_id === stepId);
  const after = current.steps.slice(at + 1).find((step) => kept.has(step.step_id));
  const before = current.steps
    .slice(0, Math.max(at, 0))
    .reverse()
    .find((step) => kept.has(step.step_id));
  return (after ?? before)?.step_id ?? null;
}

/** The choices that apply, in the order to offer them. */
function choicesFor(applies: {
  finished: boolean;
  restart: boolean;
  continueWithNew: boolean;
}): ResumeChoice[] {
  if (applies.finished) return ['start_fresh'];
  return [
    ...(applies.restart ? (['restart_at'] as const) : []),
    ...(applies.continueWithNew ? (['continue_with_new'] as const) : []),
    'continue_with_original',
    'start_fresh',
  ];
}

export function describeVersionChange(input: {
  current: WorkflowDefinition;
  submitted: WorkflowDefinition;
  currentVersionId: string;
  submittedVersionId: string;
  position: { step_id: string; module_name: string } | null;
  /** A completed or cancelled run: only `start_fresh` applies (a branch reopens it). */
  finished?: boolean;
}): VersionChangeView {
  const changes = diffVersions(input.current, input.submitted, input.position);
  const plan = new WorkflowPlan(input.submitted);
  const behind = changes.modules.filter(
    (change) => change.relation === 'before' && altersWork(change),
  );
  let suggested = earliestStep(behind, plan);
  const position = input.position;
  const warnings: string[] = [];
  if (behind.length > 0) {
    const count = behind.length === 1 ? '1 change lies' : `${behind.length} changes lie`;
    warnings.push(
      `${count} behind the run's position (${position?.step_id}.${position?.module_name}): continuing with the new version keeps what the run already did with the old one.` +
        (suggested
          ? ` Restart at step '${suggested}' to apply ${behind.length === 1 ? 'it' : 'them'}.`
          : ''),
    );
  }
  if (!changes.position_exists && position) {
    suggested ??= nextSurvivingStep(input.current, input.submitted, position.step_id);
    warnings.push(
      `The run stands at ${position.step_id}.${position.module_name}, which the submitted version does not have: name a step to restart at.`,
    );
  }
  if (input.finished) {
    // Nothing about going on applies to a run that has ended: say only what does.
    warnings.splice(
      0,
      warnings.length,
      'The run has ended: only starting a fresh run on this version applies (branch from an earlier event to reopen the run).',
    );
    suggested = null;
  }
  return {
    current_version: input.currentVersionId,
    submitted_version: input.submittedVersionId,
    options: choicesFor({
      finished: input.finished === true,
      restart: suggested !== null && (behind.length > 0 || !changes.position_exists),
      // Without its position in the new version, the run cannot simply go on there.
      continueWithNew: changes.position_exists,
    }),
    changes,
    behind_position: behind.map((change) => ({
      step_id: change.step_id,
      module_name: change.module_name,
      change: change.change,
      message: behindMessage(change),
    })),
    suggested_restart_at: suggested,
    warning: warnings.length > 0 ? warnings.join(' ') : null,
  };
}
