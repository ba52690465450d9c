import { ShownOnceSecret } from './ShownOnceSecret';
import type { CreatedWebhookSubscription } from './webhook-queries';

/**
 * The signing secret of a subscription just added, shown this once (no later answer carries it),
 * with a Copy button; where the clipboard is refused the text is selected for Ctrl+C instead.
 */
export function WebhookSecretPanel({
  created,
  onDone,
}: {
  created: CreatedWebhookSubscription;
  onDone: () => void;
}) {
  return (
    <div className="new-key" data-testid="webhook-secret">
      <h3>Signing secret of your new webhook</h3>
      <p className="new-key-warning" id="webhook-secret-note">
        <strong>This secret is shown only now.</strong> Store it with your receiver: it checks each
        request’s <code>webhook-signature</code> header with it (Standard Webhooks). It cannot be
        shown again; if you lose it, add the webhook again and delete this one.
      </p>
      <p className="muted webhook-secret-url">
        For <span className="mono">{created.url}</span>
      </p>
      <ShownOnceSecret
        id="webhook-secret-value"
        label="Signing secret"
        value={created.secret}
        noteId="webhook-secret-note"
        noun="signing secret"
      />
      <div className="actions">
        <button type="button" className="button" onClick={onDone}>
          Hide the secret
        </button>
      </div>
    </div>
  );
}
