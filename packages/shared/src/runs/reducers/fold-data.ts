import { z } from 'zod';
import type { RunError } from '../../records.js';
import type { InteractionRequest } from '../../workflow/interaction-requests.js';
import { eventDataSchemas, type EventDataSchemas } from '../event-data.js';
import { eventTypes, type EventType, type FoldableEvent } from '../events.js';

/**
 * How the reducer reads an event's data. Logs are never rewritten, so the fold must give old runs
 * the state it always gave them: it reads each field of the type's schema on its own, and a field
 * that is missing or does not match reads as `undefined` (the handler then falls back exactly as
 * the untyped fold did). It never throws on data.
 */

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Each field of a shape, made to read as `undefined` when it does not match. */
type Lenient<S extends z.core.$ZodShape> = { [P in keyof S]: z.ZodCatch<z.ZodOptional<S[P]>> };

function lenient<S extends z.core.$ZodShape>(schema: z.ZodObject<S>): z.ZodObject<Lenient<S>> {
  const fields = Object.entries(schema.shape).map(([key, field]) => [
    key,
    z.optional(field).catch(undefined),
  ]);
  // Object.fromEntries cannot keep the per-key types; the mapped type above says what it builds.
  return z.object(Object.fromEntries(fields) as Lenient<S>);
}

type LenientObject<T> =
  T extends z.ZodObject<infer S extends z.core.$ZodShape> ? z.ZodObject<Lenient<S>> : never;
type LenientSchemas = { [K in EventType]: LenientObject<EventDataSchemas[K]> };

const lenientSchemas = Object.fromEntries(
  eventTypes.map((type) => [type, lenient(eventDataSchemas[type])]),
  // As above: built from the one list of types, typed by the mapped type.
) as LenientSchemas;

/**
 * Where the untyped fold coerced rather than fell back, these fields keep its coercion, so that
 * an event written by the single-user system (or by hand) still folds to the same snapshot.
 * `optional()` lets the key be missing; the transform then runs on undefined, as String() did.
 */
const foldedText = z
  .unknown()
  .optional()
  .transform((value) => String(value));

/**
 * The untyped fold kept any object as the run's error (and `{}` for anything else), even one
 * without a code or message. Old runs keep that error; the cast is the one it always made.
 */
const foldedError = z
  .unknown()
  .optional()
  .transform((value): RunError => (isRecord(value) ? value : {}) as RunError);

/**
 * The untyped fold kept the logged request whatever it was; it still does, so a request logged
 * before requests had named shapes (a plugin's string, say) still reaches the person unchanged.
 * The engine logs only requests that match `interactionRequestSchema`; the cast is for older logs.
 */
const foldedRequest = z
  .unknown()
  .optional()
  .transform((value) => value as InteractionRequest);

const foldDataSchemas = {
  ...lenientSchemas,
  // The untyped fold took any number as the attempt (the schema wants a whole number).
  module_started: lenientSchemas.module_started.extend({
    attempt: z.number().optional().catch(undefined),
  }),
  module_failed: lenientSchemas.module_failed.extend({ error: foldedError }),
  run_failed: lenientSchemas.run_failed.extend({ error: foldedError }),
  interaction_requested: lenientSchemas.interaction_requested.extend({
    interaction_id: foldedText,
    module_id: foldedText,
    request: foldedRequest,
  }),
} satisfies { [K in EventType]: z.ZodObject };

export type FoldData<K extends EventType> = z.output<(typeof foldDataSchemas)[K]>;

/** An event of type K as a handler reads it: its place, and its data read leniently. */
export interface FoldEvent<K extends EventType> {
  event_type: K;
  step_id: string | null;
  module_name: string | null;
  seq: number;
  data: FoldData<K>;
}

/** Reads an event for its handler; never throws on odd data. */
export function toFoldEvent<K extends EventType>(
  event: FoldableEvent & { event_type: K },
): FoldEvent<K> {
  const schema: z.ZodType = foldDataSchemas[event.event_type];
  // Every field reads as undefined or its fallback when it does not match, so this cannot throw.
  const data = schema.parse(isRecord(event.data) ? event.data : {});
  return {
    event_type: event.event_type,
    step_id: event.step_id,
    module_name: event.module_name,
    seq: event.seq,
    // The schema is K's (indexed by the event's type); TypeScript cannot carry K through zod's
    // output type, so it is said here once.
    data: data as FoldData<K>,
  };
}
