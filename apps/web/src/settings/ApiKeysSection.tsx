import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useRef, useState } from 'react';
import type { paths } from '@stepwise/client';
import { api, unwrap } from '../api/client';
import { describeError, ErrorNotice, Loading } from '../layout/Status';
import { formatDateTime } from '../util/time';
import { ShownOnceSecret } from './ShownOnceSecret';
import { useConfirmFocus } from './useConfirmFocus';

/** One key as listed (`GET /v1/me/keys`): the contract declares it inline, so it is taken from there. */
type ApiKey =
  paths['/v1/me/keys']['get']['responses'][200]['content']['application/json']['items'][number];
type IssuedKey = paths['/v1/me/keys']['post']['responses'][201]['content']['application/json'];

export const keysKey = ['me', 'keys'] as const;

function When({ iso, never }: { iso: string | null; never: string }) {
  if (iso === null) return <span className="muted">{never}</span>;
  return <time dateTime={iso}>{formatDateTime(iso)}</time>;
}

/** The secret of a key just issued, shown once, with a Copy button (else the text is selected). */
function NewKeyPanel({ issued, onDone }: { issued: IssuedKey; onDone: () => void }) {
  return (
    <div className="new-key">
      <h3 id="new-key-heading">Your new API key</h3>
      <p className="new-key-warning" id="new-key-note">
        <strong>This key is shown only now.</strong> Copy it and keep it somewhere safe: once you
        leave this page or hide it, it cannot be shown again. If you lose it, create another key and
        revoke this one.
      </p>
      <ShownOnceSecret
        id="new-key-value"
        label="New API key"
        value={issued.api_key}
        noteId="new-key-note"
        noun="key"
      />
      <div className="actions">
        <button type="button" className="button" onClick={onDone}>
          Hide the key
        </button>
      </div>
    </div>
  );
}

interface KeyRowProps {
  apiKey: ApiKey;
  confirming: boolean;
  revoking: boolean;
  onAsk: () => void;
  onCancel: () => void;
  onConfirm: () => void;
}

function KeyRow({ apiKey, confirming, revoking, onAsk, onCancel, onConfirm }: KeyRowProps) {
  const { cancelButton, askButton, cancel, onKeyDown } = useConfirmFocus(
    confirming,
    revoking,
    onCancel,
  );
  const revoked = apiKey.revoked_at !== null;
  const promptId = `revoke-prompt-${apiKey.key_id}`;

  return (
    <tr className={revoked ? 'key-revoked' : undefined}>
      <th scope="row" className="mono">
        {apiKey.prefix}…
      </th>
      <td>
        <When iso={apiKey.created_at} never="" />
      </td>
      <td>
        <When iso={apiKey.last_used_at} never="Never" />
      </td>
      <td>
        {revoked ? (
          <span className="badge badge-revoked">
            Revoked <When iso={apiKey.revoked_at} never="" />
          </span>
        ) : (
          <span className="badge badge-active">Active</span>
        )}
      </td>
      <td>
        {!revoked && !confirming && (
          <button ref={askButton} type="button" className="button button-danger" onClick={onAsk}>
            Revoke<span className="visually-hidden"> key {apiKey.prefix}</span>
          </button>
        )}
        {!revoked && confirming && (
          <div
            className="revoke-confirm"
            role="group"
            aria-labelledby={promptId}
            onKeyDown={onKeyDown}
          >
            <p id={promptId}>
              Revoke key <span className="mono">{apiKey.prefix}…</span>? Programs using it stop
              working at once.
            </p>
            <div className="actions">
              <button
                type="button"
                className="button button-danger"
                onClick={onConfirm}
                disabled={revoking}
              >
                {revoking ? 'Revoking…' : 'Yes, revoke'}
              </button>
              <button
                ref={cancelButton}
                type="button"
                className="button"
                onClick={cancel}
                disabled={revoking}
              >
                Cancel
              </button>
            </div>
          </div>
        )}
      </td>
    </tr>
  );
}

/** The person's API keys for their programs: list, create (secret shown once), revoke. */
export function ApiKeysSection() {
  const client = useQueryClient();
  const heading = useRef<HTMLHeadingElement>(null);
  const [issued, setIssued] = useState<IssuedKey | null>(null);
  const [confirming, setConfirming] = useState<string | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const createButton = useRef<HTMLButtonElement>(null);

  const keys = useQuery({
    queryKey: keysKey,
    queryFn: async ({ signal }) => unwrap(await api.GET('/v1/me/keys', { signal })),
    staleTime: 0,
  });

  const create = useMutation({
    mutationFn: async () => unwrap(await api.POST('/v1/me/keys')),
    onSuccess: (key) => {
      setIssued(key);
      setConfirming(null);
      setMessage(null);
      void client.invalidateQueries({ queryKey: keysKey });
    },
  });

  const revoke = useMutation({
    mutationFn: async (key: ApiKey) => {
      unwrap(
        await api.DELETE('/v1/me/keys/{key_id}', { params: { path: { key_id: key.key_id } } }),
      );
      return key;
    },
    onSuccess: (key) => {
      setConfirming(null);
      setMessage(`Key ${key.prefix}… was revoked. Programs using it can no longer sign in.`);
      if (issued?.key_id === key.key_id) setIssued(null);
      // Shown as revoked at once; the refetch brings the server's time.
      client.setQueryData(keysKey, (old: { items: ApiKey[] } | undefined) =>
        old
          ? {
              items: old.items.map((item) =>
                item.key_id === key.key_id
                  ? { ...item, revoked_at: item.revoked_at ?? new Date().toISOString() }
                  : item,
              ),
            }
          : old,
      );
      void client.invalidateQueries({ queryKey: keysKey });
      // The row's buttons are gone: focus goes back to the section, whose status says what happened.
      heading.current?.focus();
    },
  });

  const hideKey = () => {
    setIssued(null);
    createButton.current?.focus();
  };

  const items = keys.data?.items ?? [];
  const active = items.filter((item) => item.revoked_at === null).length;

  return (
    <section className="settings-section" aria-labelledby="keys-heading">
      <h2 id="keys-heading" ref={heading} tabIndex={-1}>
        API keys
      </h2>
      <p className="muted">
        Your programs use an API key to call Stepwise as you (
        <code>Authorization: Bearer &lt;key&gt;</code>). Give each program its own key, and revoke a
        key you no longer need or that may have leaked.
      </p>
      <div role="status">{message && <p className="notice notice-success">{message}</p>}</div>
      {create.isError && <ErrorNotice error={create.error} title="The key could not be created" />}
      {revoke.isError && (
        <div className="notice notice-error" role="alert">
          <p className="notice-title">The key could not be revoked</p>
          <p>{describeError(revoke.error)}</p>
        </div>
      )}
      {issued && <NewKeyPanel issued={issued} onDone={hideKey} />}
      <div className="actions">
        <button
          ref={createButton}
          type="button"
          className="button button-primary"
          onClick={() => create.mutate()}
          disabled={create.isPending}
        >
          {create.isPending ? 'Creating…' : 'Create API key'}
        </button>
      </div>
      {keys.isPending && <Loading label="Loading your keys" />}
      {keys.isError && <ErrorNotice error={keys.error} title="Your keys could not be loaded" />}
      {keys.isSuccess && items.length === 0 && <p>You have no API keys yet.</p>}
      {items.length > 0 && (
        <div className="table-wrap">
          <table className="keys-table">
            <caption>
              Your API keys ({active} active, {items.length - active} revoked)
            </caption>
            <thead>
              <tr>
                <th scope="col">Key</th>
                <th scope="col">Created</th>
                <th scope="col">Last used</th>
                <th scope="col">Status</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {items.map((item) => (
                <KeyRow
                  key={item.key_id}
                  apiKey={item}
                  confirming={confirming === item.key_id}
                  revoking={revoke.isPending && revoke.variables.key_id === item.key_id}
                  onAsk={() => {
                    revoke.reset();
                    setConfirming(item.key_id);
                  }}
                  onCancel={() => setConfirming(null)}
                  onConfirm={() => revoke.mutate(item)}
                />
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
