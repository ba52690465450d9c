import { z } from 'zod';
import { moduleEffectsSchema } from '../workflow/module-declarations.js';
import { interactionRequestSchema } from '../workflow/interaction-requests.js';
import { interactionDeadlineSchema, onTimeoutSchema } from '../workflow/deadlines.js';
import { eventTypes, type EventType } from './events.js';

/**
 * What each event type carries in `data`, as the engine writes it (and as the migration wrote it
 * from the single-user schema). Fields written only since some change are optional, so every log
 * ever written parses. Every object is loose: a log may hold keys this version does not know (the
 * migrated log kept `step_id`/`module_name` inside `data`), and parsing must not drop them.
 *
 * The reducer does not parse with these directly: it reads each field on its own and treats a
 * field that does not match as absent (see `reducers/fold-data.ts`), so an odd old event folds
 * exactly as it always did.
 */

/** Any JSON object (state, outputs, inputs). */
const jsonObject = z.record(z.string(), z.unknown());

/** A module of a workflow version, by step and module name. */
export const modulePositionSchema = z.object({ step_id: z.string(), module_name: z.string() });
export type ModulePosition = z.infer<typeof modulePositionSchema>;

/** An error as the log records it; loose so that a later `details` does not break old readers. */
export const eventErrorSchema = z.looseObject({ code: z.string(), message: z.string() });

/** `<workflow_run_id>:<seq of the attempt's module_started>`: unique for ever. */
const idempotencyKey = z.string().min(1);
const attemptNumber = z.number().int().nonnegative();
const nothing = z.looseObject({});

export const eventDataSchemas = {
  run_created: z.looseObject({
    project_name: z.string(),
    initial_state: jsonObject,
    /** Absent in migrated logs and in logs written before it was recorded here. */
    workflow_version_id: z.string().optional(),
  }),
  step_started: nothing,
  step_completed: nothing,
  module_started: z.looseObject({
    /** The rendered inputs with secrets redacted; `{}` when the module failed before it started. */
    inputs: jsonObject,
    attempt: attemptNumber,
    /** Absent in logs written before attempts had keys. */
    idempotency_key: idempotencyKey.optional(),
    /** Absent in logs written before modules declared their effects. */
    effects: moduleEffectsSchema.optional(),
  }),
  module_completed: z.looseObject({
    outputs: jsonObject,
    /** The `outputs_to_state` writes. */
    state_changes: jsonObject,
    /**
     * A key the whole of `outputs` is written under in the state, before `state_changes`: the
     * original system's flat state held every module's output under its name (migrated logs only;
     * docs/migration-original.md). Absent: only `state_changes` are written.
     */
    outputs_state_key: z.string().optional(),
  }),
  module_skipped: z.looseObject({
    /** The `when` that was false. */
    when: z.string(),
  }),
  module_failed: z.looseObject({
    error: eventErrorSchema,
    attempt: attemptNumber,
    will_retry: z.boolean(),
    /** When the next attempt may run (ISO time); only with `will_retry`. */
    retry_at: z.string().optional(),
  }),
  module_interrupted: z.looseObject({
    attempt: attemptNumber,
    idempotency_key: idempotencyKey,
  }),
  job_submitted: z.looseObject({
    /** The provider's id for the job. */
    job_id: z.string(),
    /** The status the submission answered with, if it gave one. */
    status: z.string().nullable(),
    attempt: attemptNumber,
    idempotency_key: idempotencyKey,
    /** ISO times: when it was submitted, when it is first checked, and when it times out. */
    submitted_at: z.string(),
    poll_at: z.string(),
    deadline_at: z.string(),
  }),
  job_polled: z.looseObject({
    job_id: z.string(),
    status: z.string().nullable(),
    /** The next check (ISO time). */
    poll_at: z.string(),
  }),
  job_completed: z.looseObject({
    /** Null for a provider that answered with the files at once. */
    job_id: z.string().nullable(),
    status: z.string().nullable(),
    artifact_ids: z.array(z.string()),
  }),
  job_failed: z.looseObject({
    job_id: z.string().nullable(),
    status: z.string().nullable(),
    error: eventErrorSchema,
  }),
  interaction_requested: z.looseObject({
    interaction_id: z.string(),
    /** The module type that asks (`user.select`, a plugin's id…). */
    module_id: z.string(),
    /** What the person sees: a built-in module's request by `module_id`, or a plugin's own. */
    request: interactionRequestSchema,
    /** Absent when the module declares no deadline. */
    deadline: interactionDeadlineSchema.optional(),
  }),
  interaction_responded: z.looseObject({
    interaction_id: z.string(),
    response: z.unknown(),
    /** The module's `default_response`, given because nobody answered by the deadline. */
    timed_out: z.literal(true).optional(),
    /**
     * The earlier `interaction_responded` whose answer this one reuses (versions.md, "Reusing
     * answers"): the same question, asked the same way, answered before on the run's lineage.
     */
    reused_from: z.string().optional(),
  }),
  interaction_timed_out: z.looseObject({
    interaction_id: z.string(),
    /** What the deadline does: `fail` (module_failed follows) or `default` (the answer follows). */
    on_timeout: onTimeoutSchema.exclude(['remind']),
    /** The deadline that passed (ISO time). */
    due_at: z.string(),
  }),
  reminder_sent: z.looseObject({
    interaction_id: z.string(),
    /** 1 for the first reminder. */
    reminder: z.number().int().positive(),
    /** The deadline that passed (ISO time) and the next reminder's. */
    due_at: z.string(),
    next_due_at: z.string(),
  }),
  retry_requested: z.looseObject({
    target: modulePositionSchema,
    feedback: z.string().nullable(),
    /** The questions from here on that were answered before, asked the same way, are not asked again. */
    reuse_answers: z.literal(true).optional(),
  }),
  branch_created: z.looseObject({
    branch_id: z.string(),
    parent_branch_id: z.string(),
    branch_point_event_id: z.string(),
    /** Absent in migrated logs (the branches collection holds the lineage there). */
    branch_point_seq: z.number().int().nonnegative().optional(),
    lineage: z.array(z.object({ branch_id: z.string(), until_seq: z.number().int() })).optional(),
    /**
     * The version the branch goes on with when it is not the one in force at the fork point (the
     * branch then continues on it as after a `continue_with_new` switch). Absent: it keeps that one.
     */
    workflow_version_id: z.string().optional(),
    /** As on `retry_requested`. */
    reuse_answers: z.literal(true).optional(),
  }),
  version_switched: z.looseObject({
    from_version_id: z.string(),
    to_version_id: z.string(),
    /** The resume choice that switches versions (the others append no `version_switched`). */
    choice: z.literal('continue_with_new'),
    /** The first module of the step the run restarts at; null to go on from where it stands. */
    restart_at: modulePositionSchema.nullable(),
    /** As on `retry_requested`. */
    reuse_answers: z.literal(true).optional(),
  }),
  run_resumed: nothing,
  run_completed: z.looseObject({
    /** The final state (a summary for readers; the reducer folds state from state_changes). */
    state: jsonObject,
  }),
  run_failed: z.looseObject({ error: eventErrorSchema }),
  run_cancelled: z.looseObject({
    /** The gateway sends no reason today, so this is null in practice. */
    reason: z.string().nullable(),
  }),
  legacy_event: z.looseObject({
    /** The original's `event_type` (`jump_requested`, `sub_action_completed`, …). */
    legacy_type: z.string(),
    /** The original's `data`, verbatim. */
    legacy_data: jsonObject,
    /** What the original's state fold took from it (`_state_mapped`); absent when nothing. */
    state_changes: jsonObject.optional(),
  }),
} as const satisfies { [K in EventType]: z.ZodObject };

export type EventDataSchemas = typeof eventDataSchemas;
/** The data of an event of type K, as parsed. */
export type EventData<K extends EventType> = z.output<EventDataSchemas[K]>;
/** The data an emitter of type K must give (defaults and optional fields may be left out). */
export type EventDataInput<K extends EventType> = z.input<EventDataSchemas[K]>;

/**
 * Where an event stands: module and interaction events name a module, step events a step, and
 * run-level events neither.
 */
const atModule = { step_id: z.string(), module_name: z.string() };
const atStep = { step_id: z.string(), module_name: z.null() };
const atRun = { step_id: z.null(), module_name: z.null() };
/** A legacy event stands wherever the original wrote it. */
const anywhere = { step_id: z.string().nullable(), module_name: z.string().nullable() };

function event<
  K extends EventType,
  P extends typeof atModule | typeof atStep | typeof atRun | typeof anywhere,
>(type: K, position: P) {
  return z.object({ event_type: z.literal(type), ...position, data: eventDataSchemas[type] });
}

/**
 * One event of the log, typed by its `event_type`. The list is checked against `eventTypes` below,
 * so a new type without a member here does not compile.
 */
export const runEventSchema = z.discriminatedUnion('event_type', [
  event('run_created', atRun),
  event('step_started', atStep),
  event('step_completed', atStep),
  event('module_started', atModule),
  event('module_completed', atModule),
  event('module_skipped', atModule),
  event('module_failed', atModule),
  event('module_interrupted', atModule),
  event('job_submitted', atModule),
  event('job_polled', atModule),
  event('job_completed', atModule),
  event('job_failed', atModule),
  event('interaction_requested', atModule),
  event('interaction_responded', atModule),
  event('interaction_timed_out', atModule),
  event('reminder_sent', atModule),
  event('retry_requested', atRun),
  event('branch_created', atRun),
  event('version_switched', atRun),
  event('run_resumed', atRun),
  event('run_completed', atRun),
  event('run_failed', atRun),
  event('run_cancelled', atRun),
  event('legacy_event', anywhere),
]);
export type RunEvent = z.output<typeof runEventSchema>;
export type RunEventOf<K extends EventType> = Extract<RunEvent, { event_type: K }>;

/** Compile-time: every event type has a member in `runEventSchema`. */
const everyTypeHasAMember: [Exclude<EventType, RunEvent['event_type']>] extends [never]
  ? true
  : never = true;
void everyTypeHasAMember;

/** Parses an event (any record with the decided fields) into its typed variant; throws a ZodError. */
export function parseRunEvent(event: unknown): RunEvent {
  return runEventSchema.parse(event);
}

/**
 * The typed data of `event` if it is of type `type` and its data matches that type's schema;
 * null otherwise. For readers outside the reducer (mirroring branches, linking artifacts) that
 * care about one type and must not crash on an odd old event.
 */
export function eventDataOf<K extends EventType>(
  event: { event_type: string; data: unknown },
  type: K,
): EventData<K> | null {
  if (event.event_type !== type) return null;
  const schema: z.ZodType = eventDataSchemas[type];
  const parsed = schema.safeParse(event.data);
  // The schema is K's (indexed by `type`); TypeScript cannot carry K through zod's output type.
  return parsed.success ? (parsed.data as EventData<K>) : null;
}

const knownTypes: ReadonlySet<unknown> = new Set(eventTypes);

/** True for an event type this version knows (a migrated log may keep others verbatim). */
export function isEventType(value: unknown): value is EventType {
  return knownTypes.has(value);
}
