import { z } from 'zod';
import type { RunCommandType } from '../records.js';

/**
 * What each command in a run's inbox carries in `payload`, as the gateway (and the runner's wake
 * job) build it. The command types themselves are `runCommandTypeSchema` in records.ts; this file
 * only adds the payloads. Payloads are read tolerantly: keys this version does not know are
 * dropped, not refused, so a newer acceptor does not break an older runner.
 */
export const commandPayloadSchemas = {
  start: z.object({}),
  respond: z.object({
    interaction_id: z.string(),
    /** Checked by the asking module against its own schema, not here. */
    response: z.unknown(),
  }),
  cancel: z.object({ reason: z.string().nullable().optional() }),
  /** Sent by a wake job: go on only if the run still stands at this seq. */
  continue: z.object({ expected_last_seq: z.number().int().nonnegative() }),
  retry: z.object({
    step_id: z.string(),
    /** Absent: the first module of the step. */
    module_name: z.string().optional(),
    /** Readable by the retried module as `run.feedback`. */
    feedback: z.string().optional(),
    /** Questions answered before, asked the same way, are answered with that answer (versions.md). */
    reuse_answers: z.boolean().optional(),
  }),
  branch: z.object({
    from_event_id: z.string(),
    /** Chosen by the acceptor, so it can answer with the branch before the runner applies it. */
    branch_id: z.string(),
    /** A version of the run's template to fork onto; absent: the one in force at the fork point. */
    workflow_version_id: z.string().optional(),
    reuse_answers: z.boolean().optional(),
  }),
  resume: z.object({}),
  switch_version: z.object({
    to_version_id: z.string(),
    /** A step of the new version to restart at; absent to go on from where the run stands. */
    restart_at: z.string().optional(),
    reuse_answers: z.boolean().optional(),
  }),
  timeout: z.object({
    interaction_id: z.string(),
    /** The deadline the timer was set for: a timer for an earlier one finds nothing to do. */
    due_at: z.string(),
  }),
} as const satisfies { [K in RunCommandType]: z.ZodObject };

export type CommandPayloadSchemas = typeof commandPayloadSchemas;
/** The payload of a command of type K, as parsed. */
export type RunCommandPayload<K extends RunCommandType> = z.output<CommandPayloadSchemas[K]>;
/** The payload an acceptor of type K must build. */
export type RunCommandPayloadInput<K extends RunCommandType> = z.input<CommandPayloadSchemas[K]>;

function command<K extends RunCommandType>(type: K) {
  return z.object({ type: z.literal(type), payload: commandPayloadSchemas[type] });
}

/**
 * A command's type with its payload. The list is checked against `runCommandTypeSchema` below, so
 * a new command type without a member here does not compile.
 */
export const runCommandSchema = z.discriminatedUnion('type', [
  command('start'),
  command('respond'),
  command('cancel'),
  command('continue'),
  command('retry'),
  command('branch'),
  command('resume'),
  command('switch_version'),
  command('timeout'),
]);
export type RunCommand = z.output<typeof runCommandSchema>;
export type RunCommandOf<K extends RunCommandType> = Extract<RunCommand, { type: K }>;

/** Compile-time: every command type has a member in `runCommandSchema`. */
const everyTypeHasAMember: [Exclude<RunCommandType, RunCommand['type']>] extends [never]
  ? true
  : never = true;
void everyTypeHasAMember;

/** The payload of an acceptor's command of type K, checked (throws a ZodError when it does not fit). */
export function commandPayload<K extends RunCommandType>(
  type: K,
  payload: RunCommandPayloadInput<K>,
): RunCommandPayload<K> {
  const schema: z.ZodType = commandPayloadSchemas[type];
  // The schema is K's (indexed by `type`); TypeScript cannot carry K through zod's output type.
  return schema.parse(payload) as RunCommandPayload<K>;
}
