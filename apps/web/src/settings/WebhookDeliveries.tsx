import { useState } from 'react';
import { Link } from 'react-router';
import { ErrorNotice, Loading } from '../layout/Status';
import { clockTime, fullTime } from '../run/format';
import {
  attemptOutcome,
  attemptSucceeded,
  deliveryStatuses,
  deliveryStatusViews,
  durationText,
  eventViews,
  isDeliveryStatus,
  runPath,
} from './webhook-present';
import {
  useDeliveries,
  type DeliveryStatus,
  type WebhookDelivery,
  type WebhookSubscription,
} from './webhook-queries';

function When({ iso }: { iso: string }) {
  return (
    <time dateTime={iso} title={fullTime(iso)}>
      {clockTime(iso)}
    </time>
  );
}

/** Where a delivery stands beyond its badge: when it arrived, why it was given up, the next try. */
function StatusDetail({ delivery }: { delivery: WebhookDelivery }) {
  if (delivery.status === 'delivered' && delivery.delivered_at !== null)
    return (
      <span className="webhook-detail">
        at <When iso={delivery.delivered_at} />
      </span>
    );
  if (delivery.status === 'failed' && delivery.failure_reason !== null)
    return <span className="webhook-detail">{delivery.failure_reason}</span>;
  if (delivery.status === 'pending' && delivery.next_attempt_at !== null)
    return (
      <span className="webhook-detail">
        next try at <When iso={delivery.next_attempt_at} />
      </span>
    );
  return null;
}

function Attempts({ delivery }: { delivery: WebhookDelivery }) {
  if (delivery.attempts.length === 0) return <span className="muted">None yet</span>;
  return (
    <ol className="webhook-attempts">
      {delivery.attempts.map((attempt, index) => (
        <li
          key={`${attempt.attempted_at}-${index}`}
          className={attemptSucceeded(attempt) ? 'webhook-attempt-ok' : 'webhook-attempt-bad'}
        >
          <When iso={attempt.attempted_at} />: {attemptOutcome(attempt)}{' '}
          <span className="muted">({durationText(attempt.duration_ms)})</span>
        </li>
      ))}
    </ol>
  );
}

function DeliveryRow({ delivery }: { delivery: WebhookDelivery }) {
  const status = deliveryStatusViews[delivery.status];
  return (
    <tr>
      <th scope="row">
        {eventViews[delivery.type].label}
        <span className="webhook-detail mono">{delivery.type}</span>
      </th>
      <td>
        <Link to={runPath(delivery.workflow_run_id)} className="mono">
          {delivery.workflow_run_id}
        </Link>
      </td>
      <td className="mono">{delivery.seq}</td>
      <td>
        <span className={`badge ${status.className}`}>{status.label}</span>
        <StatusDetail delivery={delivery} />
      </td>
      <td>
        <When iso={delivery.created_at} />
      </td>
      <td>
        <Attempts delivery={delivery} />
      </td>
    </tr>
  );
}

/**
 * A subscription's delivery log (`GET /v1/webhooks/{id}/deliveries`): newest first, a page at a
 * time, optionally one status only; each delivery with every attempt made. The body sent is not
 * shown (the API does not give it).
 */
export function WebhookDeliveries({
  subscription,
  id,
}: {
  subscription: WebhookSubscription;
  id: string;
}) {
  const [status, setStatus] = useState<DeliveryStatus | null>(null);
  const [refreshing, setRefreshing] = useState(false);
  const log = useDeliveries(subscription.subscription_id, status);
  const items = log.data?.pages.flatMap((page) => page.items) ?? [];
  const headingId = `${id}-heading`;
  const filterId = `${id}-status`;

  return (
    <section id={id} className="webhook-deliveries" aria-labelledby={headingId}>
      <h4 id={headingId}>
        Deliveries<span className="visually-hidden"> to {subscription.url}</span>
      </h4>
      <div className="webhook-log-bar">
        <div className="field field-inline">
          <label htmlFor={filterId}>Show</label>
          <select
            id={filterId}
            value={status ?? ''}
            onChange={(event) =>
              setStatus(isDeliveryStatus(event.target.value) ? event.target.value : null)
            }
          >
            <option value="">All deliveries</option>
            {deliveryStatuses.map((value) => (
              <option key={value} value={value}>
                {deliveryStatusViews[value].label} only
              </option>
            ))}
          </select>
        </div>
        {/* aria-disabled, not disabled: the log also refetches on its own while a delivery is
            pending, and a disabled button would throw the keyboard focus off it each time. */}
        <button
          type="button"
          className="button"
          onClick={() => {
            if (refreshing) return;
            setRefreshing(true);
            void log.refetch().finally(() => setRefreshing(false));
          }}
          aria-disabled={refreshing}
        >
          {refreshing ? 'Refreshing…' : 'Refresh'}
        </button>
      </div>
      {log.isPending && <Loading label="Loading the deliveries" />}
      {log.isError && <ErrorNotice error={log.error} title="The deliveries could not be loaded" />}
      <div role="status">
        {log.isSuccess && items.length === 0 && (
          <p>
            {status === null
              ? 'Nothing was sent yet.'
              : `No ${deliveryStatusViews[status].label.toLowerCase()} deliveries.`}
          </p>
        )}
      </div>
      {items.length > 0 && (
        <div className="table-wrap">
          <table className="keys-table webhook-deliveries-table">
            <caption className="visually-hidden">
              Deliveries to {subscription.url}, newest first
            </caption>
            <thead>
              <tr>
                <th scope="col">Event</th>
                <th scope="col">Run</th>
                <th scope="col">Seq</th>
                <th scope="col">Status</th>
                <th scope="col">Created</th>
                <th scope="col">Attempts</th>
              </tr>
            </thead>
            <tbody>
              {items.map((delivery) => (
                <DeliveryRow key={delivery.delivery_id} delivery={delivery} />
              ))}
            </tbody>
          </table>
        </div>
      )}
      {log.hasNextPage && (
        <div className="load-more">
          <button
            type="button"
            className="button"
            onClick={() => {
              if (!log.isFetchingNextPage) void log.fetchNextPage();
            }}
            aria-disabled={log.isFetchingNextPage}
          >
            {log.isFetchingNextPage ? 'Loading…' : `Load more (${items.length} shown)`}
          </button>
        </div>
      )}
    </section>
  );
}
