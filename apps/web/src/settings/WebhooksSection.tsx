import { useEffect, useRef, useState } from 'react';
import { useLocation } from 'react-router';
import { describeError, ErrorNotice, Loading } from '../layout/Status';
import { WebhookCard } from './WebhookCard';
import { WebhookForm } from './WebhookForm';
import { WebhookSecretPanel } from './WebhookSecretPanel';
import {
  useDeleteWebhook,
  useSetWebhookEnabled,
  useWebhooks,
  type CreatedWebhookSubscription,
} from './webhook-queries';
import './webhooks.css';

/** Most subscriptions one person may keep (docs/notifications.md, "Limit"). */
const MAX_SUBSCRIPTIONS = 20;

/**
 * The person's webhooks (people.md, "Notifications and deadlines"): add one (its signing secret
 * shown once), and for each, its status, pause or resume, enable again after Stepwise disabled
 * it, its delivery log, delete.
 */
export function WebhooksSection() {
  const heading = useRef<HTMLHeadingElement>(null);
  const { hash } = useLocation();
  // Sent here by the disabled-webhook notice (/settings#webhooks): start at this section, past
  // the API keys above it.
  useEffect(() => {
    if (hash !== '#webhooks') return;
    heading.current?.scrollIntoView();
    heading.current?.focus();
  }, [hash]);
  const [created, setCreated] = useState<CreatedWebhookSubscription | null>(null);
  const [confirming, setConfirming] = useState<string | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const webhooks = useWebhooks();
  const setEnabled = useSetWebhookEnabled();
  const remove = useDeleteWebhook();
  const items = webhooks.data ?? [];

  const onCreated = (next: CreatedWebhookSubscription) => {
    setCreated(next);
    setMessage(null);
  };
  const hideSecret = () => {
    setCreated(null);
    heading.current?.focus();
  };
  const switchOne = (subscriptionId: string, enabled: boolean) => {
    setMessage(null);
    remove.reset();
    setEnabled.mutate(
      { subscriptionId, enabled },
      {
        onSuccess: (updated) =>
          setMessage(
            updated.status === 'paused'
              ? `The webhook to ${updated.url} is paused: nothing is sent to it until you resume it.`
              : `The webhook to ${updated.url} is enabled: notifications are sent to it again.`,
          ),
      },
    );
  };
  const deleteOne = (subscriptionId: string) => {
    const subscription = items.find((item) => item.subscription_id === subscriptionId);
    if (!subscription) return;
    setMessage(null);
    remove.mutate(subscription, {
      onSuccess: (removed) => {
        setConfirming(null);
        if (created?.subscription_id === removed.subscription_id) setCreated(null);
        setMessage(`The webhook to ${removed.url} was deleted.`);
        // Its buttons are gone: focus goes back to the section, whose status says what happened.
        heading.current?.focus();
      },
    });
  };

  return (
    <section className="settings-section" aria-labelledby="webhooks-heading" id="webhooks">
      <h2 id="webhooks-heading" ref={heading} tabIndex={-1}>
        Webhooks
      </h2>
      <p className="muted">
        Stepwise can tell another system about your runs: when a question waits for you, and when a
        run completes, fails or is cancelled. Each request is signed, so the receiver can check that
        it came from Stepwise. An address that fails for 3 days is disabled, and you are told here.
      </p>
      <div role="status">{message && <p className="notice notice-success">{message}</p>}</div>
      {setEnabled.isError && (
        <ErrorNotice error={setEnabled.error} title="The webhook could not be changed" />
      )}
      {remove.isError && (
        <div className="notice notice-error" role="alert">
          <p className="notice-title">The webhook could not be deleted</p>
          <p>{describeError(remove.error)}</p>
        </div>
      )}
      {created && <WebhookSecretPanel created={created} onDone={hideSecret} />}
      {webhooks.isPending && <Loading label="Loading your webhooks" />}
      {webhooks.isError && (
        <ErrorNotice error={webhooks.error} title="Your webhooks could not be loaded" />
      )}
      {webhooks.isSuccess && items.length === 0 && <p>You have no webhooks yet.</p>}
      {items.length > 0 && (
        <>
          <p className="webhook-list-caption" id="webhook-list-heading">
            Your webhooks ({items.length} of at most {MAX_SUBSCRIPTIONS})
          </p>
          <ul className="webhook-list" aria-labelledby="webhook-list-heading">
            {items.map((item) => (
              <WebhookCard
                key={item.subscription_id}
                subscription={item}
                switching={
                  setEnabled.isPending &&
                  setEnabled.variables.subscriptionId === item.subscription_id
                }
                deleting={
                  remove.isPending && remove.variables.subscription_id === item.subscription_id
                }
                confirmingDelete={confirming === item.subscription_id}
                onSetEnabled={(enabled) => switchOne(item.subscription_id, enabled)}
                onAskDelete={() => {
                  remove.reset();
                  setConfirming(item.subscription_id);
                }}
                onCancelDelete={() => setConfirming(null)}
                onConfirmDelete={() => deleteOne(item.subscription_id)}
              />
            ))}
          </ul>
        </>
      )}
      <WebhookForm onCreated={onCreated} />
    </section>
  );
}
