import type { components } from '@stepwise/client';

export type Run = components['schemas']['Run'];
export type RunStatus = Run['status'];

/**
 * How each status reads: words first (colour only repeats them), and a class for the badge. A
 * record over the contract's statuses, so a status the gateway adds fails the type check here.
 */
const statusViews: Record<RunStatus, { label: string; className: string }> = {
  running: { label: 'Running', className: 'run-status-running' },
  awaiting_input: { label: 'Waiting for input', className: 'run-status-waiting' },
  completed: { label: 'Completed', className: 'run-status-completed' },
  error: { label: 'Failed', className: 'run-status-failed' },
  cancelled: { label: 'Cancelled', className: 'run-status-cancelled' },
};

export const runStatuses = Object.keys(statusViews) as RunStatus[];

export function statusLabel(status: RunStatus): string {
  return statusViews[status].label;
}

export function statusClass(status: RunStatus): string {
  return statusViews[status].className;
}

export function isRunStatus(value: string | null): value is RunStatus {
  return value !== null && Object.hasOwn(statusViews, value);
}

/** Where the run stands, in words: "step ideas · module choose_idea", or null before/after. */
export function positionText(run: Pick<Run, 'current_step' | 'current_module'>): string | null {
  const parts = [
    run.current_step !== null ? `step ${run.current_step}` : null,
    run.current_module !== null ? `module ${run.current_module}` : null,
  ].filter((part) => part !== null);
  return parts.length === 0 ? null : parts.join(' · ');
}

/** A template's page: its versions, and the form to start a run of it. */
export function templatePath(templateName: string): string {
  return `/templates/${encodeURIComponent(templateName)}`;
}

/** The run's own page. */
export function runPath(runId: string): string {
  return `/runs/${encodeURIComponent(runId)}`;
}

/** The page answering one of the run's questions. */
export function answerPath(runId: string, interactionId: string): string {
  return `${runPath(runId)}/interactions/${encodeURIComponent(interactionId)}`;
}

/**
 * Where a run just started (or moved onto another version) takes the person: its question if it
 * asks one, else the run.
 */
export function landingPath(run: Pick<Run, 'workflow_run_id' | 'status' | 'pending_interaction'>) {
  return run.status === 'awaiting_input' && run.pending_interaction !== null
    ? answerPath(run.workflow_run_id, run.pending_interaction.interaction_id)
    : runPath(run.workflow_run_id);
}
