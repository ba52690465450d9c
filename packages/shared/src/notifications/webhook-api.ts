import { z } from 'zod';
import { idSchema } from '../ids.js';
import { queryInteger } from '../query-params.js';

/**
 * Webhook subscriptions and their delivery log (people.md, "Notifications and deadlines"). A
 * subscription sends its owner's runs' notifications to one URL, signed per the Standard Webhooks
 * specification with a secret shown once, at creation.
 */

export const notificationTypes = [
  'interaction.requested',
  'run.completed',
  'run.failed',
  'run.cancelled',
] as const;
export const notificationTypeSchema = z
  .enum(notificationTypes)
  .describe(
    'interaction.requested: a question waits for a person (sent again with each reminder); run.completed, run.failed, run.cancelled: a run ended',
  );
export type NotificationType = z.infer<typeof notificationTypeSchema>;

export const webhookFormatSchema = z
  .enum(['standard', 'slack'])
  .describe(
    'standard: a JSON notification {type, timestamp, data}; slack: {text} for a Slack-compatible incoming webhook (the question and its link)',
  );
export type WebhookFormat = z.infer<typeof webhookFormatSchema>;

/** The most templates a subscription's filter may name. */
export const MAX_TEMPLATE_FILTER = 50;

const templateName = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'not a template name');

const webhookUrlSchema = z
  .url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' })
  .max(2_000)
  // Only a URL that parses is looked into (one that does not is z.url's to refuse).
  .refine((url) => !URL.canParse(url) || (!new URL(url).username && !new URL(url).password), {
    message: 'must not carry a user name or password (put a token in the path instead)',
  });

const eventsSchema = z
  .array(notificationTypeSchema)
  .min(1)
  .max(notificationTypes.length)
  .refine((types) => new Set(types).size === types.length, { message: 'lists a type twice' });

const templatesSchema = z
  .array(templateName)
  .min(1)
  .max(MAX_TEMPLATE_FILTER)
  .refine((names) => new Set(names).size === names.length, { message: 'lists a template twice' });

export const createWebhookBodySchema = z.strictObject({
  url: webhookUrlSchema,
  events: eventsSchema,
  templates: templatesSchema
    .nullable()
    .default(null)
    .describe('Only runs of these templates (by name); null: every template'),
  format: webhookFormatSchema.default('standard'),
  description: z.string().max(200).default(''),
});
export type CreateWebhookBody = z.infer<typeof createWebhookBodySchema>;

export const updateWebhookBodySchema = z
  .strictObject({
    url: webhookUrlSchema.optional(),
    events: eventsSchema.optional(),
    templates: templatesSchema.nullable().optional(),
    format: webhookFormatSchema.optional(),
    description: z.string().max(200).optional(),
    enabled: z
      .boolean()
      .describe('false pauses deliveries; true enables a paused or disabled subscription again')
      .optional(),
  })
  .refine((body) => Object.keys(body).length > 0, { message: 'change at least one field' });
export type UpdateWebhookBody = z.infer<typeof updateWebhookBodySchema>;

export const webhookStatusSchema = z
  .enum(['enabled', 'paused', 'disabled'])
  .describe(
    'enabled: delivering; paused: its owner paused it; disabled: Stepwise stopped it after failing for too long (see disabled_reason)',
  );
export type WebhookStatus = z.infer<typeof webhookStatusSchema>;

export const webhookViewSchema = z
  .object({
    subscription_id: z.string(),
    url: z.string(),
    events: z.array(notificationTypeSchema),
    templates: z.array(z.string()).nullable(),
    format: webhookFormatSchema,
    description: z.string(),
    status: webhookStatusSchema,
    disabled_reason: z.string().nullable(),
    disabled_at: z.iso.datetime().nullable(),
    /** When deliveries started failing without a success since (null: the last one succeeded). */
    failing_since: z.iso.datetime().nullable(),
    created_at: z.iso.datetime(),
    updated_at: z.iso.datetime(),
  })
  .meta({ id: 'WebhookSubscription' });
export type WebhookView = z.infer<typeof webhookViewSchema>;

export const createdWebhookSchema = webhookViewSchema
  .extend({
    secret: z
      .string()
      .describe('The signing secret (whsec_…): shown this once; verify webhook-signature with it'),
  })
  .meta({ id: 'CreatedWebhookSubscription' });

export const webhookListSchema = z.object({ items: z.array(webhookViewSchema) });

export const webhookParamsSchema = z.strictObject({ subscription_id: idSchema('webhook') });

export const deliveryStatusSchema = z
  .enum(['pending', 'delivered', 'failed'])
  .describe(
    'pending: not delivered yet (retried with backoff); delivered: the receiver answered 2xx; failed: given up (24 h of failures, or the subscription was disabled or removed)',
  );
export type DeliveryStatus = z.infer<typeof deliveryStatusSchema>;

export const deliveryAttemptSchema = z.object({
  attempted_at: z.iso.datetime(),
  /** The receiver's status code, or null when none came (refused address, network, timeout). */
  status_code: z.number().int().nullable(),
  error: z.string().nullable(),
  duration_ms: z.number().int().nonnegative(),
});
export type DeliveryAttempt = z.infer<typeof deliveryAttemptSchema>;

export const deliveryViewSchema = z
  .object({
    /** The `webhook-id` header: the same on every attempt of this delivery. */
    delivery_id: z.string(),
    subscription_id: z.string(),
    type: notificationTypeSchema,
    workflow_run_id: z.string(),
    seq: z.number().int(),
    event_id: z.string(),
    status: deliveryStatusSchema,
    attempts: z.array(deliveryAttemptSchema),
    created_at: z.iso.datetime(),
    next_attempt_at: z.iso.datetime().nullable(),
    delivered_at: z.iso.datetime().nullable(),
    /** Why it was given up, when it was. */
    failure_reason: z.string().nullable(),
  })
  .meta({ id: 'WebhookDelivery' });
export type DeliveryView = z.infer<typeof deliveryViewSchema>;

export const deliveriesQuerySchema = z.strictObject({
  status: deliveryStatusSchema.optional(),
  limit: queryInteger(1, 100).default(20),
  cursor: z
    .string()
    .min(1)
    .max(200)
    .describe("Opaque: the previous page's next_cursor, and nothing else (anything else is 400)")
    .optional(),
});

export const deliveryListSchema = z.object({
  items: z.array(deliveryViewSchema),
  next_cursor: z.string().nullable(),
});

/** What a standard-format notification carries in `data`. */
export const notificationDataSchema = z
  .object({
    workflow_run_id: z.string(),
    workflow_template_name: z.string(),
    project_name: z.string(),
    /** The seq of the event that caused the notification. */
    seq: z.number().int(),
    event_id: z.string(),
    status: z.string(),
    /** The run page, or null when the server has no PUBLIC_URL. */
    run_url: z.string().nullable(),
    /** interaction.requested: the page to answer on (null without PUBLIC_URL). */
    answer_url: z.string().nullable().optional(),
    interaction: z
      .object({
        interaction_id: z.string(),
        module_id: z.string(),
        step_id: z.string(),
        module_name: z.string(),
        /** The question as the person sees it (its prompt or message). */
        prompt: z.string().nullable(),
        /** When it times out or is next reminded of, if it has a deadline. */
        due_at: z.string().nullable(),
      })
      .optional(),
    /** Set on a reminder: 1 for the first. */
    reminder: z.number().int().positive().optional(),
    /** run.failed: what went wrong. */
    error: z.object({ code: z.string(), message: z.string() }).optional(),
  })
  .meta({ id: 'NotificationData' });
export type NotificationData = z.infer<typeof notificationDataSchema>;

export const notificationSchema = z
  .object({
    type: notificationTypeSchema,
    timestamp: z.iso.datetime(),
    data: notificationDataSchema,
  })
  .meta({ id: 'Notification', description: 'The body of a standard-format webhook' });
export type Notification = z.infer<typeof notificationSchema>;
