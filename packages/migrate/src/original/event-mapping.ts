import {
  translateOriginalInteractionRequest,
  type DecidedEvent,
  type EventType,
} from '@stepwise/shared';

/**
 * One event of the original system's log in Stepwise's vocabulary (docs/migration-original.md,
 * "Events"). Every original type is either mapped or kept verbatim as a `legacy_event`; nothing is
 * dropped. Pure: what it returns depends on the event and what came before it in the run's log.
 */

/** What the mapping reads of an original event (both generations). */
export interface OriginalEventFields {
  event_type: string;
  step_id?: string | null;
  module_name?: string | null;
  data?: Record<string, unknown> | null;
}

/** Where each original type goes; types not listed (and unknown ones) are kept verbatim. */
export const mappedOriginalTypes: Readonly<Record<string, EventType>> = {
  workflow_created: 'run_created',
  workflow_resumed: 'run_resumed',
  workflow_completed: 'run_completed',
  workflow_error: 'run_failed',
  step_started: 'step_started',
  step_completed: 'step_completed',
  module_started: 'module_started',
  module_completed: 'module_completed',
  module_error: 'module_failed',
  interaction_requested: 'interaction_requested',
  interaction_response: 'interaction_responded',
  retry_requested: 'retry_requested',
};

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function text(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}

/** The original kept `step_id` / `module_name` on the event; the seed's idea of it, in `data`. */
export function positionOf(event: OriginalEventFields): {
  step_id: string | null;
  module_name: string | null;
} {
  const data = isRecord(event.data) ? event.data : {};
  return {
    step_id: text(event.step_id) ?? text(data['step_id']),
    module_name: text(event.module_name) ?? text(data['module_name']),
  };
}

/**
 * What the original's flat state took from an event (research §5.2): a `module_completed` with a
 * module name writes its whole data under that name, then each `_state_mapped` key; a
 * `sub_action_completed` (and a nameless `module_completed`) only the `_state_mapped` keys. The
 * order is the original's, so a state key equal to a module name ends as the original left it.
 */
export function originalStateWrites(event: OriginalEventFields): Record<string, unknown> | null {
  const data = isRecord(event.data) ? event.data : {};
  const mapped = isRecord(data['_state_mapped']) ? data['_state_mapped'] : {};
  const moduleName = positionOf(event).module_name;
  if (event.event_type === 'module_completed') {
    return moduleName ? { [moduleName]: data, ...mapped } : { ...mapped };
  }
  if (event.event_type === 'sub_action_completed') return { ...mapped };
  return null;
}

/**
 * Where a retry's target module stands: the original's retry names only the module, so the step is
 * where it last ran (and the name is the one the translated version gives it).
 */
export type TargetOfRetry = (moduleName: string) => { step_id: string; module_name: string } | null;

function kept(event: OriginalEventFields, data: Record<string, unknown>): DecidedEvent {
  const writes = originalStateWrites(event);
  const { step_id, module_name } = positionOf(event);
  return {
    event_type: 'legacy_event',
    step_id,
    module_name,
    data: {
      legacy_type: event.event_type,
      legacy_data: data,
      ...(writes && Object.keys(writes).length > 0 ? { state_changes: writes } : {}),
    },
  };
}

/**
 * The event in Stepwise's vocabulary. Mapped events keep the original's data too (under
 * `legacy_data`, or as `outputs` for a completed module, which is that data), so the log loses
 * nothing; `legacy_type` says where each came from.
 */
export function mapOriginalEvent(
  event: OriginalEventFields,
  targetOfRetry: TargetOfRetry,
): DecidedEvent {
  const data = isRecord(event.data) ? event.data : {};
  const { step_id, module_name } = positionOf(event);
  const legacy = { legacy_type: event.event_type, legacy_data: data };
  const atModule = step_id !== null && module_name !== null;
  switch (event.event_type) {
    case 'workflow_created':
      return {
        event_type: 'run_created',
        step_id: null,
        module_name: null,
        // The original starts every run from an empty state (research §5.2: `initial_state` is
        // never read), so the migrated run does too.
        data: { project_name: text(data['project_name']) ?? '', initial_state: {}, ...legacy },
      };
    case 'workflow_resumed':
      return { event_type: 'run_resumed', step_id: null, module_name: null, data: legacy };
    case 'workflow_completed':
      return {
        event_type: 'run_completed',
        step_id: null,
        module_name: null,
        data: { state: {}, ...legacy },
      };
    case 'workflow_error':
      return {
        event_type: 'run_failed',
        step_id: null,
        module_name: null,
        data: {
          error: {
            code: 'LEGACY_WORKFLOW_ERROR',
            message: text(data['error']) ?? text(data['message']) ?? 'the run failed',
          },
          ...legacy,
        },
      };
    case 'step_started':
    case 'step_completed':
      if (step_id === null) return kept(event, data);
      return { event_type: event.event_type, step_id, module_name: null, data: legacy };
    case 'module_started':
      if (!atModule) return kept(event, data);
      return {
        event_type: 'module_started',
        step_id,
        module_name,
        data: { inputs: {}, attempt: 1, ...legacy },
      };
    case 'module_completed': {
      if (!atModule) return kept(event, data);
      return {
        event_type: 'module_completed',
        step_id,
        module_name,
        // The original wrote the whole output under the module's name, then `_state_mapped`
        // (originalStateWrites); the output is stored once, as `outputs`, and named as the key.
        data: {
          outputs: data,
          outputs_state_key: module_name,
          state_changes: isRecord(data['_state_mapped']) ? { ...data['_state_mapped'] } : {},
          legacy_type: event.event_type,
        },
      };
    }
    case 'module_error':
      if (!atModule) return kept(event, data);
      return {
        event_type: 'module_failed',
        step_id,
        module_name,
        data: {
          error: {
            code: 'LEGACY_MODULE_ERROR',
            message: text(data['error']) ?? text(data['message']) ?? 'the module failed',
          },
          attempt: 1,
          will_retry: false,
          ...legacy,
        },
      };
    case 'interaction_requested': {
      const interactionId = text(data['interaction_id']);
      if (!atModule || interactionId === null) return kept(event, data);
      const originalModule = text(data['module_id']) ?? 'legacy.interaction';
      const translated = translatedRequest(originalModule, data);
      return {
        event_type: 'interaction_requested',
        step_id,
        module_name,
        data: {
          interaction_id: interactionId,
          module_id: translated?.module_id ?? originalModule,
          // A module with no equivalent here shows the original's request as it was (the loose
          // plugin shape), without the resolved inputs it carried for the server.
          request: translated?.request ?? withoutResolvedInputs(data),
          ...legacy,
        },
      };
    }
    case 'interaction_response': {
      const interactionId = text(data['interaction_id']);
      if (!atModule || interactionId === null) return kept(event, data);
      return {
        event_type: 'interaction_responded',
        step_id,
        module_name,
        data: { interaction_id: interactionId, response: data['response'] ?? null, ...legacy },
      };
    }
    case 'retry_requested': {
      const named = text(data['target_module']);
      const target = named === null ? null : targetOfRetry(named);
      if (target === null) return kept(event, data);
      return {
        event_type: 'retry_requested',
        step_id: null,
        module_name: null,
        data: {
          target,
          feedback: text(data['feedback']),
          ...legacy,
        },
      };
    }
    default:
      return kept(event, data);
  }
}

/** The request for the module's equivalent; null when it has none or the logged one does not fit. */
function translatedRequest(moduleId: string, data: Record<string, unknown>) {
  try {
    return translateOriginalInteractionRequest(moduleId, data);
  } catch {
    // A request the original logged that the equivalent's schema refuses (no options, say) is
    // shown as it was logged; answering it then fails with the module's own error.
    return null;
  }
}

function withoutResolvedInputs(data: Record<string, unknown>): Record<string, unknown> {
  const { _resolved_inputs: _inputs, ...shown } = data;
  return shown;
}
