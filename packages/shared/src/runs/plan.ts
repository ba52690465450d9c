import type {
  ModuleDefinition,
  StepDefinition,
  WorkflowDefinition,
} from '../workflow/definition.js';

export interface PlannedModule {
  step: StepDefinition;
  module: ModuleDefinition;
  /** Whether the module is the last of its step. */
  lastInStep: boolean;
}

/** A workflow's modules in execution order, addressable by (step_id, module name). */
export class WorkflowPlan {
  private readonly order: PlannedModule[] = [];
  private readonly index = new Map<string, number>();

  constructor(readonly workflow: WorkflowDefinition) {
    for (const step of workflow.steps) {
      step.modules.forEach((module, position) => {
        this.index.set(WorkflowPlan.key(step.step_id, module.name), this.order.length);
        this.order.push({ step, module, lastInStep: position === step.modules.length - 1 });
      });
    }
  }

  private static key(stepId: string, moduleName: string): string {
    return `${stepId}\u0000${moduleName}`;
  }

  /** Where (stepId, moduleName) stands in execution order, or -1. */
  indexOf(stepId: string, moduleName: string): number {
    return this.index.get(WorkflowPlan.key(stepId, moduleName)) ?? -1;
  }

  /** The first module of a step, or null if the version has no such step. */
  firstOfStep(stepId: string): PlannedModule | null {
    return this.order.find((planned) => planned.step.step_id === stepId) ?? null;
  }

  first(): PlannedModule | null {
    return this.order[0] ?? null;
  }

  find(stepId: string, moduleName: string): PlannedModule | null {
    const position = this.index.get(WorkflowPlan.key(stepId, moduleName));
    return position === undefined ? null : (this.order[position] ?? null);
  }

  /** The module after (stepId, moduleName), or null at the end; undefined if the position is unknown. */
  after(stepId: string, moduleName: string): PlannedModule | null | undefined {
    const position = this.index.get(WorkflowPlan.key(stepId, moduleName));
    if (position === undefined) return undefined;
    return this.order[position + 1] ?? null;
  }
}
