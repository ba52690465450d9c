import {
  runViewSchema,
  type EventRecord,
  type EventView,
  type RunView,
  type WorkflowRunRecord,
} from '@stepwise/shared';

export function runView(run: WorkflowRunRecord): RunView {
  return {
    workflow_run_id: run.workflow_run_id,
    workflow_template_id: run.workflow_template_id,
    workflow_template_name: run.workflow_template_name,
    user_id: run.user_id,
    initial_version_id: run.initial_version_id,
    current_version_id: run.current_version_id,
    project_name: run.project_name,
    status: run.status,
    current_step: run.current_step,
    current_module: run.current_module,
    active_branch_id: run.active_branch_id,
    pending_interaction: run.pending_interaction,
    error: run.error,
    last_seq: run.last_seq,
    created_at: run.created_at.toISOString(),
    updated_at: run.updated_at.toISOString(),
  };
}

export function eventView(event: EventRecord): EventView {
  return {
    event_id: event.event_id,
    workflow_run_id: event.workflow_run_id,
    workflow_version_id: event.workflow_version_id,
    branch_id: event.branch_id,
    seq: event.seq,
    event_type: event.event_type,
    step_id: event.step_id,
    module_name: event.module_name,
    data: event.data,
    timestamp: event.timestamp.toISOString(),
    correlation_id: event.correlation_id,
    command_id: event.command_id ?? null,
    actor: event.actor ?? null,
  };
}

/** What list and detail reads fetch of a run: everything but the commit machinery. */
export const runProjection = { outbox: 0, snapshot: 0, last_rejection: 0 } as const;

/**
 * What a run's view reads of it, and nothing more: the fields of the view's own schema. The
 * snapshot's state and the initial state can be large, and decoding what the answer does not show
 * was a good part of a run read's cost (docs/performance.md, "Gateway reads").
 */
export const runViewProjection: Readonly<Record<string, 0 | 1>> = {
  _id: 0,
  ...Object.fromEntries(Object.keys(runViewSchema.shape).map((field) => [field, 1])),
};
