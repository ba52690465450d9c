import { z } from 'zod';

/**
 * Deadlines on interactive modules (people.md, "Notifications and deadlines"): how long a question
 * may wait, and what happens then. Durations are ISO 8601 (`PT30M`, `P1DT2H`, `P1W`) or a whole
 * number of milliseconds. Years and months are refused: their length depends on the calendar, and
 * a deadline should mean the same span whenever it is asked.
 */

/** The shortest deadline or reminder interval: anything shorter is a typo, not a deadline. */
export const MIN_DEADLINE_MS = 1_000;
/** The longest: a question that may wait more than a year needs no deadline. */
export const MAX_DEADLINE_MS = 366 * 24 * 3_600_000;

const isoDuration =
  /^P(?:(\d+(?:\.\d+)?)W)?(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;
const unitMs = [7 * 86_400_000, 86_400_000, 3_600_000, 60_000, 1_000] as const;

/** Milliseconds of an ISO 8601 duration without years or months, or null if it is not one. */
export function parseIsoDuration(text: string): number | null {
  const match = isoDuration.exec(text);
  if (!match || text === 'P' || text.endsWith('T')) return null;
  let total = 0;
  unitMs.forEach((ms, index) => {
    const part = match[index + 1];
    if (part !== undefined) total += Number(part) * ms;
  });
  return Math.round(total);
}

export const durationSchema = z
  .union([
    z.number().int(),
    z
      .string()
      .max(64)
      .describe('ISO 8601 duration without years or months, e.g. PT30M, P1DT12H, P1W'),
  ])
  .transform((value, context) => {
    const ms = typeof value === 'number' ? value : parseIsoDuration(value);
    if (ms === null) {
      context.addIssue({
        code: 'custom',
        message:
          'must be an ISO 8601 duration without years or months (e.g. PT30M, P1DT12H) or milliseconds',
      });
      return z.NEVER;
    }
    if (ms < MIN_DEADLINE_MS || ms > MAX_DEADLINE_MS) {
      context.addIssue({
        code: 'custom',
        message: `must be between ${MIN_DEADLINE_MS / 1000} s and 366 days`,
      });
      return z.NEVER;
    }
    return ms;
  });

export const onTimeoutSchema = z
  .enum(['fail', 'default', 'remind'])
  .describe(
    'fail: the module fails (and the run with it); default: the question is answered with default_response; remind: the owner is notified again, every remind_every, until someone answers',
  );
export type OnTimeout = z.infer<typeof onTimeoutSchema>;

/** The deadline fields a module definition may carry (only an interactive module may). */
export const moduleDeadlineFields = {
  timeout: durationSchema
    .optional()
    .describe('How long the question may wait (ISO 8601 duration or milliseconds)'),
  on_timeout: onTimeoutSchema.optional(),
  default_response: z
    .unknown()
    .optional()
    .describe('With on_timeout "default": the answer given in the person’s place'),
  remind_every: durationSchema
    .optional()
    .describe('With on_timeout "remind": the interval between reminders (default: timeout)'),
};

/** A question's deadline as the log records it on `interaction_requested`. */
export const interactionDeadlineSchema = z.looseObject({
  /**
   * ISO time the question was asked. Reminders commit events while the run waits, so the run's
   * `updated_at` no longer tells when it started waiting; the inbox reads this instead.
   */
  asked_at: z.string().optional(),
  /** ISO time at which the deadline (or the next reminder) falls. */
  due_at: z.string(),
  on_timeout: onTimeoutSchema,
  /** With `remind`: milliseconds between reminders. */
  remind_every_ms: z.number().int().positive().optional(),
  /** Reminders sent so far (0 until the first). */
  reminders_sent: z.number().int().nonnegative().optional(),
});
export type InteractionDeadline = z.infer<typeof interactionDeadlineSchema>;

/** What a module definition says about its deadline, once parsed (null: it has none). */
export interface ModuleDeadline {
  timeoutMs: number;
  onTimeout: OnTimeout;
  remindEveryMs: number | null;
  defaultResponse: unknown;
}

export function moduleDeadlineOf(module: {
  timeout?: number | undefined;
  on_timeout?: OnTimeout | undefined;
  remind_every?: number | undefined;
  default_response?: unknown;
}): ModuleDeadline | null {
  if (module.timeout === undefined) return null;
  const onTimeout = module.on_timeout ?? 'fail';
  return {
    timeoutMs: module.timeout,
    onTimeout,
    remindEveryMs: onTimeout === 'remind' ? (module.remind_every ?? module.timeout) : null,
    defaultResponse: module.default_response,
  };
}
