import type {
  EventRecord,
  Notification,
  NotificationData,
  NotificationType,
  PendingInteraction,
  WebhookFormat,
} from '@stepwise/shared';
import type { RunFacts } from '../engine/run-facts.js';

/** The log's events that notify someone, and as what. */
export function notificationTypeOf(event: EventRecord): NotificationType | null {
  switch (event.event_type) {
    case 'interaction_requested':
    case 'reminder_sent':
      return 'interaction.requested';
    case 'run_completed':
      return 'run.completed';
    case 'run_failed':
      return 'run.failed';
    case 'run_cancelled':
      return 'run.cancelled';
    default:
      return null;
  }
}

const statusOf: Record<NotificationType, string> = {
  'interaction.requested': 'awaiting_input',
  'run.completed': 'completed',
  'run.failed': 'error',
  'run.cancelled': 'cancelled',
};

/** What a person reads as the question: a prompt, or a confirmation's message. */
export function questionText(request: unknown): string | null {
  if (typeof request !== 'object' || request === null) return null;
  const { prompt, message } = request as { prompt?: unknown; message?: unknown };
  if (typeof prompt === 'string' && prompt !== '') return prompt;
  if (typeof message === 'string' && message !== '') return message;
  return null;
}

export interface NotificationSource {
  type: NotificationType;
  event: EventRecord;
  facts: RunFacts;
  /** The question, for `interaction.requested` (a reminder's comes from the run). */
  interaction: PendingInteraction | null;
  /** PUBLIC_URL: links are made only with it. */
  publicUrl: string | undefined;
}

export function notificationOf(source: NotificationSource): Notification {
  const { type, event, facts, interaction, publicUrl } = source;
  const runId = event.workflow_run_id;
  const data: NotificationData = {
    workflow_run_id: runId,
    workflow_template_name: facts.workflow_template_name,
    project_name: facts.project_name,
    seq: event.seq,
    event_id: event.event_id,
    status: statusOf[type],
    run_url: publicUrl ? `${publicUrl}/app/runs/${runId}` : null,
  };
  if (type === 'interaction.requested' && interaction) {
    data.answer_url = publicUrl
      ? `${publicUrl}/app/runs/${runId}/interactions/${interaction.interaction_id}`
      : null;
    data.interaction = {
      interaction_id: interaction.interaction_id,
      module_id: interaction.module_id,
      step_id: interaction.step_id,
      module_name: interaction.module_name,
      prompt: questionText(interaction.request),
      due_at: interaction.deadline?.due_at ?? null,
    };
    const reminder = event.event_type === 'reminder_sent' ? event.data['reminder'] : undefined;
    if (typeof reminder === 'number') data.reminder = reminder;
  }
  if (type === 'run.failed') {
    const error = event.data['error'] as { code?: unknown; message?: unknown } | undefined;
    data.error = { code: String(error?.code ?? 'ERROR'), message: String(error?.message ?? '') };
  }
  return { type, timestamp: new Date(event.timestamp).toISOString(), data };
}

/** A plain message for a Slack-compatible incoming webhook: what happened, and the link. */
export function slackText(notification: Notification): string {
  const { data } = notification;
  const run = `${data.workflow_template_name} / ${data.project_name}`;
  const link = data.answer_url ?? data.run_url;
  const linked = (text: string) => (link ? `${text}\n<${link}|Open it in Stepwise>` : text);
  switch (notification.type) {
    case 'interaction.requested': {
      const again = data.reminder ? ` (reminder ${data.reminder})` : '';
      const question = data.interaction?.prompt ?? 'a question';
      return linked(`${run} waits for an answer${again}: ${question}`);
    }
    case 'run.completed':
      return linked(`${run} completed.`);
    case 'run.failed':
      return linked(`${run} failed: ${data.error?.message ?? 'unknown error'}`);
    case 'run.cancelled':
      return linked(`${run} was cancelled.`);
  }
}

/** The exact bytes sent (and signed) for a subscription's format. */
export function deliveryBody(notification: Notification, format: WebhookFormat): string {
  return JSON.stringify(format === 'slack' ? { text: slackText(notification) } : notification);
}
