import { useState } from 'react';
import { formatDateTime } from '../util/time';
import { WebhookDeliveries } from './WebhookDeliveries';
import {
  disabledReason,
  eventViews,
  formatViews,
  statusViews,
  templatesText,
} from './webhook-present';
import type { WebhookSubscription } from './webhook-queries';
import { useConfirmFocus } from './useConfirmFocus';

interface WebhookCardProps {
  subscription: WebhookSubscription;
  /** Pausing, resuming or enabling this one is under way. */
  switching: boolean;
  deleting: boolean;
  confirmingDelete: boolean;
  onSetEnabled: (enabled: boolean) => void;
  onAskDelete: () => void;
  onCancelDelete: () => void;
  onConfirmDelete: () => void;
}

/** The button that changes whether deliveries are made: what it does depends on the status. */
function switchLabel(subscription: WebhookSubscription): { text: string; enable: boolean } {
  switch (subscription.status) {
    case 'enabled':
      return { text: 'Pause', enable: false };
    case 'paused':
      return { text: 'Resume', enable: true };
    case 'disabled':
      return { text: 'Enable again', enable: true };
  }
}

/**
 * One subscription: where it sends what, its status (with Stepwise's reason when it disabled
 * it), and what can be done about it: pause or resume, enable again, read its deliveries, delete.
 */
export function WebhookCard({
  subscription,
  switching,
  deleting,
  confirmingDelete,
  onSetEnabled,
  onAskDelete,
  onCancelDelete,
  onConfirmDelete,
}: WebhookCardProps) {
  const [logOpen, setLogOpen] = useState(false);
  const {
    cancelButton,
    askButton: deleteButton,
    cancel,
    onKeyDown,
  } = useConfirmFocus(confirmingDelete, deleting, onCancelDelete);
  const id = subscription.subscription_id;
  const status = statusViews[subscription.status];
  const action = switchLabel(subscription);
  const about = subscription.description !== '' ? subscription.description : subscription.url;

  return (
    <li
      className={`webhook-card webhook-card-${subscription.status}`}
      aria-labelledby={`${id}-url`}
      data-testid="webhook-card"
    >
      <h3 id={`${id}-url`} className="webhook-url mono">
        {subscription.url}
      </h3>
      {subscription.description !== '' && (
        <p className="webhook-description">{subscription.description}</p>
      )}
      <dl className="webhook-facts">
        <div>
          <dt>Status</dt>
          <dd>
            <span className={`badge ${status.className}`}>{status.label}</span>
          </dd>
        </div>
        <div>
          <dt>Events</dt>
          <dd>{subscription.events.map((type) => eventViews[type].label).join(', ')}</dd>
        </div>
        <div>
          <dt>Templates</dt>
          <dd>{templatesText(subscription.templates)}</dd>
        </div>
        <div>
          <dt>Format</dt>
          <dd>{formatViews[subscription.format].label}</dd>
        </div>
        <div>
          <dt>Added</dt>
          <dd>
            <time dateTime={subscription.created_at}>
              {formatDateTime(subscription.created_at)}
            </time>
          </dd>
        </div>
      </dl>
      {subscription.status === 'disabled' && (
        <div className="notice notice-error webhook-disabled-reason">
          <p className="notice-title">Stepwise disabled this webhook</p>
          <p>
            {disabledReason(subscription)}
            {subscription.disabled_at !== null && (
              <>
                {' '}
                (on{' '}
                <time dateTime={subscription.disabled_at}>
                  {formatDateTime(subscription.disabled_at)}
                </time>
                )
              </>
            )}
            . Nothing is sent to it until you enable it again.
          </p>
        </div>
      )}
      {subscription.status === 'enabled' && subscription.failing_since !== null && (
        <p className="webhook-failing">
          Deliveries have been failing since{' '}
          <time dateTime={subscription.failing_since}>
            {formatDateTime(subscription.failing_since)}
          </time>
          ; after 3 days of failures it is disabled.
        </p>
      )}
      {!confirmingDelete && (
        <div className="actions">
          <button
            type="button"
            className="button"
            aria-expanded={logOpen}
            aria-controls={logOpen ? `${id}-log` : undefined}
            onClick={() => setLogOpen((open) => !open)}
          >
            {logOpen ? 'Hide deliveries' : 'Deliveries'}
            <span className="visually-hidden"> of {about}</span>
          </button>
          <button
            type="button"
            className={action.enable ? 'button button-primary' : 'button'}
            // aria-disabled keeps the focus on the button while its label says it is saving.
            onClick={() => {
              if (!switching) onSetEnabled(action.enable);
            }}
            aria-disabled={switching}
          >
            {switching ? 'Saving…' : action.text}
            <span className="visually-hidden"> {about}</span>
          </button>
          <button
            ref={deleteButton}
            type="button"
            className="button button-danger"
            onClick={onAskDelete}
          >
            Delete<span className="visually-hidden"> {about}</span>
          </button>
        </div>
      )}
      {confirmingDelete && (
        <div
          className="revoke-confirm"
          role="group"
          aria-labelledby={`${id}-delete-prompt`}
          onKeyDown={onKeyDown}
        >
          <p id={`${id}-delete-prompt`}>
            Delete the webhook to <span className="mono">{subscription.url}</span>? Nothing more is
            sent to it, and deliveries not yet made are given up.
          </p>
          <div className="actions">
            <button
              type="button"
              className="button button-danger"
              onClick={() => {
                if (!deleting) onConfirmDelete();
              }}
              aria-disabled={deleting}
            >
              {deleting ? 'Deleting…' : 'Yes, delete'}
            </button>
            <button
              ref={cancelButton}
              type="button"
              className="button"
              onClick={() => {
                if (!deleting) cancel();
              }}
              aria-disabled={deleting}
            >
              Cancel
            </button>
          </div>
        </div>
      )}
      {logOpen && <WebhookDeliveries subscription={subscription} id={`${id}-log`} />}
    </li>
  );
}
