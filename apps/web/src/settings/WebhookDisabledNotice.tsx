import { Link } from 'react-router';
import { disabledReason } from './webhook-present';
import { useWebhooks } from './webhook-queries';

/**
 * Shown on every page while Stepwise has disabled one of the person's webhooks (its endpoint
 * failed for 3 days): the owner is told in the app (people.md), and sent to Settings to enable
 * it again. Nothing is shown while the list loads or when it cannot be read: this is a reminder,
 * not the page's content.
 */
export function WebhookDisabledNotice({ enabled }: { enabled: boolean }) {
  const webhooks = useWebhooks({ enabled, poll: true });
  const disabled = (webhooks.data ?? []).filter((item) => item.status === 'disabled');
  const first = disabled[0];
  if (!first) return null;
  const one = disabled.length === 1;
  return (
    <div className="notice notice-error" data-testid="webhook-disabled-notice">
      <p>
        <strong>
          {one ? 'A webhook was disabled' : `${disabled.length} webhooks were disabled`}:
        </strong>{' '}
        {disabledReason(first)}
        {one ? '' : ' (and others)'}.{' '}
        <Link to="/settings#webhooks">{one ? 'See it in Settings' : 'See them in Settings'}</Link>{' '}
        to enable {one ? 'it' : 'them'} again once the receiver works.
      </p>
    </div>
  );
}
