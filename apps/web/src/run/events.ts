import type { components } from '@stepwise/client';

/** One event of a run's log, as `GET /v1/runs/{id}/events` and the run's stream give it. */
export type RunEvent = components['schemas']['Event'];
export type Actor = NonNullable<RunEvent['actor']>;

/*
 * Readers of an event's `data`. The contract types `data` as any object; what each event type
 * carries is `eventDataSchemas` in packages/shared/src/runs/event-data.ts. Each reader takes one
 * field and treats a field that does not match as absent, so an odd event of an old log shows as
 * much as can be read of it instead of breaking the page.
 */

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function textField(data: Record<string, unknown>, key: string): string | null {
  const value = data[key];
  return typeof value === 'string' ? value : null;
}

export function numberField(data: Record<string, unknown>, key: string): number | null {
  const value = data[key];
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

export function recordField(
  data: Record<string, unknown>,
  key: string,
): Record<string, unknown> | null {
  const value = data[key];
  return isRecord(value) ? value : null;
}

/** A module of the workflow, by step and module name. */
export interface ModulePosition {
  step_id: string;
  module_name: string;
}

export function positionOf(value: unknown): ModulePosition | null {
  if (!isRecord(value)) return null;
  const stepId = textField(value, 'step_id');
  const moduleName = textField(value, 'module_name');
  return stepId !== null && moduleName !== null
    ? { step_id: stepId, module_name: moduleName }
    : null;
}

/** The position a module event stands at (module and interaction events name one). */
export function eventPosition(event: RunEvent): ModulePosition | null {
  return event.step_id !== null && event.module_name !== null
    ? { step_id: event.step_id, module_name: event.module_name }
    : null;
}

/** `ideas.generate`: how a person reads a module's place in the workflow. */
export function moduleLabel(position: ModulePosition): string {
  return `${position.step_id}.${position.module_name}`;
}

export function samePosition(a: ModulePosition, b: ModulePosition): boolean {
  return a.step_id === b.step_id && a.module_name === b.module_name;
}

/** An error as the log records it (`{code, message}`). */
export function errorOf(data: Record<string, unknown>): { code: string; message: string } | null {
  const error = recordField(data, 'error');
  if (!error) return null;
  const message = textField(error, 'message');
  return message === null ? null : { code: textField(error, 'code') ?? 'ERROR', message };
}

/** A retry's target and feedback (`retry_requested`). */
export function retryOf(
  event: RunEvent,
): { target: ModulePosition; feedback: string | null } | null {
  if (event.event_type !== 'retry_requested') return null;
  const target = positionOf(event.data['target']);
  if (!target) return null;
  const feedback = textField(event.data, 'feedback');
  return { target, feedback: feedback !== null && feedback.trim() !== '' ? feedback : null };
}

/** The interaction an `interaction_requested` or `interaction_responded` event is about. */
export function interactionIdOf(event: RunEvent): string | null {
  return event.event_type === 'interaction_requested' ||
    event.event_type === 'interaction_responded'
    ? textField(event.data, 'interaction_id')
    : null;
}
