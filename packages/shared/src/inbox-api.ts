import { z } from 'zod';
import { queryInteger } from './query-params.js';
import { pendingInteractionSchema, runStatusSchema } from './records.js';

/** Request and response bodies of the inbox routes (`GET /v1/me/interactions`, `/v1/me/stream`). */

const templateName = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'not a template name');

export const inboxSortSchema = z.enum(['oldest', 'newest']);
export type InboxSort = z.infer<typeof inboxSortSchema>;

export const inboxQuerySchema = z.strictObject({
  sort: inboxSortSchema
    .describe('oldest: the longest-waiting first (default); newest: the latest question first')
    .default('oldest'),
  workflow_template_name: templateName.optional(),
  project_name: z.string().min(1).max(200).optional(),
  limit: queryInteger(1, 100).default(50),
  cursor: z
    .string()
    .min(1)
    .max(200)
    .describe("Opaque: the previous page's next_cursor, with the same sort (anything else is 400)")
    .optional(),
});
export type InboxQuery = z.infer<typeof inboxQuerySchema>;

export const inboxItemSchema = z
  .object({
    workflow_run_id: z.string(),
    workflow_template_name: z.string(),
    project_name: z.string(),
    /** The version the run stands on (the one the question was asked from). */
    workflow_version_id: z.string(),
    pending_interaction: pendingInteractionSchema,
    /** When the question was asked: the time of its `interaction_requested` event. */
    waiting_since: z.iso.datetime(),
  })
  .meta({ id: 'InboxItem', description: 'An interaction waiting for the caller, with its run' });
export type InboxItem = z.infer<typeof inboxItemSchema>;

export const inboxPageSchema = z
  .object({
    items: z.array(inboxItemSchema),
    next_cursor: z.string().nullable(),
    /** How many interactions wait for the caller (matching the filters), over all pages. */
    total: z.number().int(),
  })
  .meta({ id: 'InboxPage', description: 'A page of the caller’s waiting interactions' });
export type InboxPage = z.infer<typeof inboxPageSchema>;

/** `interaction.answered` on the user stream: the interaction left the inbox. */
export const inboxAnsweredSchema = z
  .object({
    workflow_run_id: z.string(),
    interaction_id: z.string(),
    /** The run's seq of the `interaction_responded` event. */
    seq: z.number().int(),
    answered_at: z.iso.datetime(),
  })
  .meta({ id: 'InboxInteractionAnswered' });
export type InboxAnswered = z.infer<typeof inboxAnsweredSchema>;

/** `run.status` on the user stream: the run's status now, after a change that can move it. */
export const inboxRunStatusSchema = z
  .object({
    workflow_run_id: z.string(),
    workflow_template_name: z.string(),
    project_name: z.string(),
    status: runStatusSchema,
    /**
     * The interaction the run waits on now, or null. Any inbox item of this run with another id
     * has left the inbox (answered, cancelled, or left behind on another branch).
     */
    pending_interaction_id: z.string().nullable(),
    /** The run's last seq when this was read. */
    last_seq: z.number().int(),
    updated_at: z.iso.datetime(),
  })
  .meta({ id: 'InboxRunStatus' });
export type InboxRunStatus = z.infer<typeof inboxRunStatusSchema>;

/** The `event:` names of the user stream, with the schema of each one's `data:`. */
export const userStreamEventNames = [
  'interaction.requested',
  'interaction.answered',
  'run.status',
] as const;
export type UserStreamEventName = (typeof userStreamEventNames)[number];
