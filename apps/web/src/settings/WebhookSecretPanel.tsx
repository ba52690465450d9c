import { useEffect, useRef, useState } from 'react';
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
  const field = useRef<HTMLInputElement>(null);
  const [copyState, setCopyState] = useState<'idle' | 'copied' | 'manual'>('idle');

  // The secret is what the person must act on now: focus it, so it is read out and selectable.
  useEffect(() => {
    field.current?.focus();
    field.current?.select();
    setCopyState('idle');
  }, [created.subscription_id]);

  const copy = async () => {
    try {
      if (!navigator.clipboard) throw new Error('no clipboard');
      await navigator.clipboard.writeText(created.secret);
      setCopyState('copied');
    } catch {
      field.current?.focus();
      field.current?.select();
      setCopyState('manual');
    }
  };

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
      <div className="field">
        <label htmlFor="webhook-secret-value">Signing secret</label>
        <div className="copy-row">
          <input
            id="webhook-secret-value"
            ref={field}
            type="text"
            className="mono"
            readOnly
            value={created.secret}
            onFocus={(event) => event.currentTarget.select()}
            aria-describedby="webhook-secret-note"
            spellCheck={false}
            autoComplete="off"
          />
          <button type="button" className="button" onClick={() => void copy()}>
            Copy<span className="visually-hidden"> the signing secret</span>
          </button>
        </div>
      </div>
      <div role="status" className="copy-status">
        {copyState === 'copied' && <p className="field-help">Copied to the clipboard.</p>}
        {copyState === 'manual' && (
          <p className="field-help">
            The secret could not be copied automatically. It is selected: press Ctrl+C (⌘C on a Mac)
            to copy it.
          </p>
        )}
      </div>
      <div className="actions">
        <button type="button" className="button" onClick={onDone}>
          Hide the secret
        </button>
      </div>
    </div>
  );
}
