import { z } from 'zod';
import { canonicalJson } from '../canonical-json.js';
import { ChangeTextBudget, moduleTextChanges, textChangeSchema } from './change-text.js';
import type { ModuleDefinition, WorkflowDefinition } from '../workflow/definition.js';
import { WorkflowPlan } from './plan.js';

/** Where a change lies relative to the run's current position. */
export const changeRelationSchema = z.enum(['before', 'at', 'after']);
export type ChangeRelation = z.infer<typeof changeRelationSchema>;

export const moduleChangeSchema = z.object({
  step_id: z.string(),
  module_name: z.string(),
  change: z.enum(['added', 'removed', 'changed']),
  /** For `changed`: which parts differ (`module_id` is the module type; `order` its place). */
  fields: z.array(
    z.enum(['module_id', 'inputs', 'outputs_to_state', 'when', 'retry', 'display', 'order']),
  ),
  relation: changeRelationSchema,
  /** The changed text itself: a unified diff per changed input, template or setting. */
  text_changes: z.array(textChangeSchema),
});

export const stepChangeSchema = z.object({
  step_id: z.string(),
  change: z.enum(['added', 'removed', 'changed']),
  /** For `changed`: its modules differ, or it moved among the steps. */
  fields: z.array(z.enum(['modules', 'order', 'name'])),
  relation: changeRelationSchema,
});

export const versionChangesSchema = z.object({
  position: z.object({ step_id: z.string(), module_name: z.string() }).nullable(),
  position_exists: z.boolean(),
  steps: z.array(stepChangeSchema),
  modules: z.array(moduleChangeSchema),
});
export type VersionChanges = z.infer<typeof versionChangesSchema>;

const comparedFields = [
  'module_id',
  'inputs',
  'outputs_to_state',
  'when',
  'retry',
  'display',
] as const;

function relationOf(index: number, positionIndex: number): ChangeRelation {
  if (positionIndex < 0) return 'after';
  return index < positionIndex ? 'before' : index === positionIndex ? 'at' : 'after';
}

function same(a: unknown, b: unknown): boolean {
  if (a === undefined || b === undefined) return a === b;
  return canonicalJson(a) === canonicalJson(b);
}

/**
 * What changes for a run at `position` (the module it stands at) if it moves from `current` to
 * `submitted`: every step and module added, removed or changed, each placed before, at or after
 * the position. Removed and changed items are placed by the current version's order, added ones by
 * the submitted version's (relative to the same position there, or its step if it is gone).
 */
export function diffVersions(
  current: WorkflowDefinition,
  submitted: WorkflowDefinition,
  position: { step_id: string; module_name: string } | null,
): VersionChanges {
  const oldPlan = new WorkflowPlan(current);
  const newPlan = new WorkflowPlan(submitted);
  const oldPosition = position ? oldPlan.indexOf(position.step_id, position.module_name) : -1;
  const newPosition = position ? newPlan.indexOf(position.step_id, position.module_name) : -1;
  const oldStepIndex = new Map(current.steps.map((step, index) => [step.step_id, index]));
  const newStepIndex = new Map(submitted.steps.map((step, index) => [step.step_id, index]));
  const positionStep = position ? (oldStepIndex.get(position.step_id) ?? -1) : -1;
  const positionStepInNew = position ? (newStepIndex.get(position.step_id) ?? -1) : -1;

  // One budget for the whole answer's change text, however many modules changed.
  const budget = new ChangeTextBudget();
  const modules: VersionChanges['modules'] = [];
  const oldModules = new Map<string, { module: ModuleDefinition; index: number; place: number }>();
  for (const step of current.steps) {
    step.modules.forEach((module, place) =>
      oldModules.set(`${step.step_id}/${module.name}`, {
        module,
        index: oldPlan.indexOf(step.step_id, module.name),
        place,
      }),
    );
  }
  const seen = new Set<string>();
  for (const step of submitted.steps) {
    step.modules.forEach((module, place) => {
      const key = `${step.step_id}/${module.name}`;
      seen.add(key);
      const before = oldModules.get(key);
      const index = newPlan.indexOf(step.step_id, module.name);
      if (!before) {
        const relation =
          newPosition >= 0
            ? relationOf(index, newPosition)
            : relationOf(
                newStepIndex.get(step.step_id) ?? 0,
                positionStepInNew >= 0 ? positionStepInNew : positionStep,
              );
        modules.push({
          step_id: step.step_id,
          module_name: module.name,
          change: 'added',
          fields: [],
          relation,
          text_changes: moduleTextChanges(undefined, module, budget),
        });
        return;
      }
      const fields: VersionChanges['modules'][number]['fields'] = comparedFields.filter(
        (field) => !same(before.module[field], module[field]),
      );
      if (before.place !== place) fields.push('order');
      if (fields.length > 0) {
        modules.push({
          step_id: step.step_id,
          module_name: module.name,
          change: 'changed',
          fields,
          relation: relationOf(before.index, oldPosition),
          text_changes: moduleTextChanges(before.module, module, budget),
        });
      }
    });
  }
  for (const [key, before] of oldModules) {
    if (seen.has(key)) continue;
    const [stepId = '', moduleName = ''] = key.split('/');
    modules.push({
      step_id: stepId,
      module_name: moduleName,
      change: 'removed',
      fields: [],
      relation: relationOf(before.index, oldPosition),
      text_changes: moduleTextChanges(before.module, undefined, budget),
    });
  }

  const steps: VersionChanges['steps'] = [];
  for (const [index, step] of submitted.steps.entries()) {
    const oldIndex = oldStepIndex.get(step.step_id);
    if (oldIndex === undefined) {
      steps.push({
        step_id: step.step_id,
        change: 'added',
        fields: [],
        relation: relationOf(index, positionStepInNew >= 0 ? positionStepInNew : positionStep),
      });
      continue;
    }
    const before = current.steps[oldIndex];
    const fields: VersionChanges['steps'][number]['fields'] = [];
    if (modules.some((change) => change.step_id === step.step_id)) fields.push('modules');
    if (oldIndex !== index) fields.push('order');
    if (before?.name !== step.name) fields.push('name');
    if (fields.length > 0)
      steps.push({
        step_id: step.step_id,
        change: 'changed',
        fields,
        relation: relationOf(oldIndex, positionStep),
      });
  }
  for (const [index, step] of current.steps.entries()) {
    if (!newStepIndex.has(step.step_id))
      steps.push({
        step_id: step.step_id,
        change: 'removed',
        fields: [],
        relation: relationOf(index, positionStep),
      });
  }

  return { position, position_exists: position === null || newPosition >= 0, steps, modules };
}
