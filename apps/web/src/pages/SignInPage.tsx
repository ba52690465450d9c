import { useMutation } from '@tanstack/react-query';
import { useId, useState, type FormEvent } from 'react';
import { Navigate, useNavigate, useSearchParams } from 'react-router';
import { ApiError, api, unwrap } from '../api/client';
import { nextPage } from '../auth/RequireSession';
import { useSession, useSignedIn } from '../auth/session';
import { AuthFrame } from '../layout/AuthFrame';
import { describeError } from '../layout/Status';
import { useDocumentTitle } from '../util/title';
import { tooManyAttempts } from '../util/rate-limited';

/** What to tell a person whose sign-in was refused. */
function refusal(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.status === 401) return 'That username or email and password do not match.';
    if (error.status === 429) return tooManyAttempts(error.retryAfterSeconds);
  }
  return describeError(error);
}

export function SignInPage() {
  useDocumentTitle('Sign in');
  const [search] = useSearchParams();
  const navigate = useNavigate();
  const session = useSession();
  const signedIn = useSignedIn();
  const [login, setLogin] = useState('');
  const [password, setPassword] = useState('');
  const errorId = useId();
  const signIn = useMutation({
    mutationFn: async () =>
      unwrap(await api.POST('/v1/auth/sessions', { body: { login: login.trim(), password } })),
    onSuccess: (started) => {
      signedIn(started);
      void navigate(nextPage(search), { replace: true });
    },
  });

  // Someone already signed in has nothing to do here.
  if (session.data) return <Navigate to={nextPage(search)} replace />;

  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (!signIn.isPending) signIn.mutate();
  };

  return (
    <AuthFrame title="Sign in to Stepwise">
      <form className="stack" onSubmit={submit} noValidate>
        {signIn.isError && (
          <div className="notice notice-error" role="alert" id={errorId}>
            {refusal(signIn.error)}
          </div>
        )}
        <div className="field">
          <label htmlFor="login">Username or email</label>
          <input
            id="login"
            name="username"
            autoComplete="username"
            required
            value={login}
            onChange={(event) => setLogin(event.target.value)}
            aria-describedby={signIn.isError ? errorId : undefined}
          />
        </div>
        <div className="field">
          <label htmlFor="password">Password</label>
          <input
            id="password"
            name="password"
            type="password"
            autoComplete="current-password"
            required
            value={password}
            onChange={(event) => setPassword(event.target.value)}
          />
        </div>
        <button
          type="submit"
          className="button button-primary"
          disabled={signIn.isPending || login.trim() === '' || password === ''}
        >
          {signIn.isPending ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </AuthFrame>
  );
}
