import { useMutation } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { useNavigate } from 'react-router';
import { ApiError, api, unwrap } from '../api/client';
import { NewPasswordFields, newPasswordReady } from '../auth/NewPasswordFields';
import { useSignedIn } from '../auth/session';
import { AuthFrame } from '../layout/AuthFrame';
import { describeError } from '../layout/Status';
import { useDocumentTitle } from '../util/title';

/**
 * The token travels in the link's fragment (`#token=…`), which browsers never send to a server
 * or put in a Referer: it reaches only this page.
 */
function tokenOf(hash: string): string | null {
  const token = new URLSearchParams(hash.replace(/^#/, '')).get('token');
  return token !== null && token !== '' ? token : null;
}

export function InvitationPage() {
  useDocumentTitle('Accept your invitation');
  const navigate = useNavigate();
  const signedIn = useSignedIn();
  const [token] = useState(() => tokenOf(window.location.hash));
  const [password, setPassword] = useState('');
  const [repeat, setRepeat] = useState('');
  const accept = useMutation({
    mutationFn: async (body: { token: string; password: string }) =>
      unwrap(await api.POST('/v1/auth/invitations/accept', { body })),
    onSuccess: (session) => {
      signedIn(session);
      // The token is spent: drop it from the address bar and the history entry.
      void navigate('/inbox', { replace: true });
    },
  });

  if (token === null) {
    return (
      <AuthFrame title="This invitation link is incomplete">
        <p>
          The link has no invitation token. Open the whole link from your invitation, or ask the
          person who invited you for a new one.
        </p>
      </AuthFrame>
    );
  }

  const refused = accept.error instanceof ApiError && accept.error.status === 410;
  if (refused) {
    return (
      <AuthFrame title="This invitation no longer works">
        <p role="alert">
          The link has expired or was already used. Ask the person who invited you for a new one.
        </p>
      </AuthFrame>
    );
  }

  const ready = newPasswordReady(password, repeat);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (ready && !accept.isPending) accept.mutate({ token, password });
  };

  return (
    <AuthFrame title="Choose your password">
      <p>Set a password to finish joining Stepwise. You will be signed in right away.</p>
      <form className="stack" onSubmit={submit} noValidate>
        {accept.isError && (
          <div className="notice notice-error" role="alert">
            {describeError(accept.error)}
          </div>
        )}
        <NewPasswordFields
          password={password}
          repeat={repeat}
          onPasswordChange={setPassword}
          onRepeatChange={setRepeat}
        />
        <button
          type="submit"
          className="button button-primary"
          disabled={!ready || accept.isPending}
        >
          {accept.isPending ? 'Setting your password…' : 'Set password and sign in'}
        </button>
      </form>
    </AuthFrame>
  );
}
