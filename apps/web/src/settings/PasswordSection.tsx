import { useMutation } from '@tanstack/react-query';
import { useRef, useState, type FormEvent } from 'react';
import { ApiError, api, unwrap } from '../api/client';
import { NewPasswordFields, newPasswordReady } from '../auth/NewPasswordFields';
import { useSession } from '../auth/session';
import { describeError } from '../layout/Status';
import { tooManyAttempts } from '../util/rate-limited';

/** A 403 naming the current password (not the CSRF header): the password typed is not theirs. */
function wrongCurrent(error: unknown): boolean {
  return (
    error instanceof ApiError &&
    error.status === 403 &&
    !error.problems.some((problem) => problem.path.startsWith('header.'))
  );
}

/** What to tell a person whose change was refused for another reason. */
function refusal(error: unknown): string {
  if (error instanceof ApiError && error.status === 429)
    return tooManyAttempts(error.retryAfterSeconds);
  return describeError(error);
}

/** Changing the password: the current one, then the new one twice (`PUT /v1/me/password`). */
export function PasswordSection() {
  const session = useSession();
  const heading = useRef<HTMLHeadingElement>(null);
  const currentField = useRef<HTMLInputElement>(null);
  const [current, setCurrent] = useState('');
  const [password, setPassword] = useState('');
  const [repeat, setRepeat] = useState('');
  const [changed, setChanged] = useState(false);
  const change = useMutation({
    mutationFn: async (body: { current_password: string; new_password: string }) =>
      unwrap(await api.PUT('/v1/me/password', { body })),
    onSuccess: () => {
      setCurrent('');
      setPassword('');
      setRepeat('');
      setChanged(true);
      // The form is empty again and its button disabled: focus goes to the section, whose status
      // says what happened.
      heading.current?.focus();
    },
    onError: (error) => {
      if (wrongCurrent(error)) currentField.current?.focus();
    },
  });

  const wrong = change.isError && wrongCurrent(change.error);
  const ready = current !== '' && newPasswordReady(password, repeat);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (!ready || change.isPending) return;
    setChanged(false);
    change.mutate({ current_password: current, new_password: password });
  };

  const edited = () => {
    if (changed) setChanged(false);
    if (change.isError) change.reset();
  };

  return (
    <section className="settings-section" aria-labelledby="password-heading">
      <h2 id="password-heading" ref={heading} tabIndex={-1}>
        Password
      </h2>
      <p className="muted">
        Changing your password signs you out everywhere else: every other browser where you are
        signed in. This one stays signed in. API keys keep working.
      </p>
      <div role="status">
        {changed && (
          <p className="notice notice-success">
            Your password was changed. Your other sessions were signed out; this one stays signed
            in.
          </p>
        )}
      </div>
      <form className="stack settings-form" onSubmit={submit} noValidate>
        {change.isError && !wrong && (
          <div className="notice notice-error" role="alert">
            <p className="notice-title">The password was not changed</p>
            <p>{refusal(change.error)}</p>
          </div>
        )}
        {session.data && (
          // For password managers: which account this new password belongs to.
          <input
            type="text"
            name="username"
            autoComplete="username"
            value={session.data.user.username}
            readOnly
            hidden
          />
        )}
        <div className="field">
          <label htmlFor="current-password">Current password</label>
          <input
            id="current-password"
            ref={currentField}
            type="password"
            autoComplete="current-password"
            required
            value={current}
            onChange={(event) => {
              setCurrent(event.target.value);
              edited();
            }}
            aria-invalid={wrong}
            aria-describedby={wrong ? 'current-password-error' : undefined}
          />
          {wrong && (
            <p id="current-password-error" className="field-error" role="alert">
              That is not your current password.
            </p>
          )}
        </div>
        <NewPasswordFields
          idPrefix="settings-"
          label="New password"
          repeatLabel="New password again"
          password={password}
          repeat={repeat}
          onPasswordChange={(value) => {
            setPassword(value);
            edited();
          }}
          onRepeatChange={(value) => {
            setRepeat(value);
            edited();
          }}
        />
        <div className="actions">
          <button
            type="submit"
            className="button button-primary"
            disabled={!ready || change.isPending}
          >
            {change.isPending ? 'Changing your password…' : 'Change password'}
          </button>
        </div>
      </form>
    </section>
  );
}
