import type { FieldProblem } from '../api/client';
import type {
  DeliveryStatus,
  WebhookDelivery,
  WebhookEventType,
  WebhookFormat,
  WebhookStatus,
  WebhookSubscription,
} from './webhook-queries';

/*
 * What a person reads of webhook subscriptions and their deliveries: labels, sentences and the
 * mapping of the API's field problems onto the form. Records over the contract's enums, so a type
 * or status the gateway adds fails the type check here instead of showing blank.
 */

export const eventViews: Record<WebhookEventType, { label: string; description: string }> = {
  'interaction.requested': {
    label: 'A question waits',
    description: 'A run asks you something (sent again with each reminder of a deadline).',
  },
  'run.completed': { label: 'Run completed', description: 'A run finished successfully.' },
  'run.failed': { label: 'Run failed', description: 'A run stopped with an error.' },
  'run.cancelled': { label: 'Run cancelled', description: 'Someone cancelled a run.' },
};

/** In the order the form offers them. */
export const eventTypes = Object.keys(eventViews) as WebhookEventType[];

export const formatViews: Record<WebhookFormat, { label: string; description: string }> = {
  standard: {
    label: 'Standard',
    description:
      'Signed JSON ({type, timestamp, data}) per Standard Webhooks, for your own receiver.',
  },
  slack: {
    label: 'Slack message',
    description: 'A plain message with the question and its link, for a Slack incoming webhook.',
  },
};

/** Words first; the class only repeats them in colour. */
export const statusViews: Record<WebhookStatus, { label: string; className: string }> = {
  enabled: { label: 'Enabled', className: 'badge-active' },
  paused: { label: 'Paused', className: 'webhook-badge-paused' },
  disabled: { label: 'Disabled', className: 'webhook-badge-disabled' },
};

export const deliveryStatusViews: Record<DeliveryStatus, { label: string; className: string }> = {
  pending: { label: 'Pending', className: 'webhook-badge-paused' },
  delivered: { label: 'Delivered', className: 'badge-active' },
  failed: { label: 'Failed', className: 'webhook-badge-disabled' },
};

export const deliveryStatuses = Object.keys(deliveryStatusViews) as DeliveryStatus[];

export function isDeliveryStatus(value: string): value is DeliveryStatus {
  return Object.hasOwn(deliveryStatusViews, value);
}

/**
 * The template filter as typed ("onboarding, pet_clips"): names split on commas or spaces, each
 * once, in the order given; none at all means every template (`null`).
 */
export function templatesOf(text: string): string[] | null {
  const names = [
    ...new Set(
      text
        .split(/[\s,]+/)
        .map((name) => name.trim())
        .filter((name) => name !== ''),
    ),
  ];
  return names.length === 0 ? null : names;
}

export function templatesText(templates: string[] | null): string {
  return templates === null ? 'Every template' : templates.join(', ');
}

/** The form's fields, each of which the gateway's problems (`body.<field>…`) may name. */
export type WebhookField = 'url' | 'events' | 'templates' | 'format' | 'description';
const fields: readonly WebhookField[] = ['url', 'events', 'templates', 'format', 'description'];

/**
 * The gateway's problems by form field (`body.templates.1` belongs to templates); a problem no
 * field shows (the body as a whole) goes under `form`, so nothing it says is lost.
 */
export function problemsByField(
  problems: readonly FieldProblem[],
): Record<WebhookField | 'form', string[]> {
  const byField: Record<WebhookField | 'form', string[]> = {
    url: [],
    events: [],
    templates: [],
    format: [],
    description: [],
    form: [],
  };
  for (const problem of problems) {
    const field = fields.find(
      (name) => problem.path === `body.${name}` || problem.path.startsWith(`body.${name}.`),
    );
    byField[field ?? 'form'].push(problem.message);
  }
  return byField;
}

/** The run a delivery was about, within the app (the router adds /app). */
export function runPath(runId: string): string {
  return `/runs/${encodeURIComponent(runId)}`;
}

type Attempt = WebhookDelivery['attempts'][number];

/** One attempt's outcome: "HTTP 200" or the error that kept it from an answer. */
export function attemptOutcome(attempt: Attempt): string {
  if (attempt.status_code !== null) {
    return attempt.error !== null
      ? `HTTP ${attempt.status_code}: ${attempt.error}`
      : `HTTP ${attempt.status_code}`;
  }
  return attempt.error ?? 'no answer';
}

export function attemptSucceeded(attempt: Attempt): boolean {
  return attempt.status_code !== null && attempt.status_code >= 200 && attempt.status_code < 300;
}

export function durationText(ms: number): string {
  return ms < 1_000 ? `${Math.round(ms)} ms` : `${(ms / 1_000).toFixed(1)} s`;
}

/** Why a disabled subscription stopped, as the notice and the list say it. */
export function disabledReason(subscription: WebhookSubscription): string {
  // Without its own full stop: the sentences around it add theirs.
  return (subscription.disabled_reason ?? 'its deliveries failed for too long').replace(
    /[.\s]+$/,
    '',
  );
}
