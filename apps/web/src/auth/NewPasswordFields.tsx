/** The gateway's bounds for a password (people.md): at least 10 characters, at most 128. */
export const MIN_PASSWORD = 10;
export const MAX_PASSWORD = 128;

/** What is wrong with a new password, counted in code points as the gateway does; null when fine. */
export function passwordProblem(password: string): string | null {
  const length = [...password].length;
  if (length < MIN_PASSWORD)
    return `At least ${MIN_PASSWORD} characters (${MIN_PASSWORD - length} more).`;
  if (length > MAX_PASSWORD) return `At most ${MAX_PASSWORD} characters.`;
  return null;
}

/** Whether a new password and its repetition may be sent. */
export function newPasswordReady(password: string, repeat: string): boolean {
  return password !== '' && passwordProblem(password) === null && repeat === password;
}

interface NewPasswordFieldsProps {
  password: string;
  repeat: string;
  onPasswordChange: (value: string) => void;
  onRepeatChange: (value: string) => void;
  /** Prefixes the inputs' ids (`${idPrefix}new-password`, `${idPrefix}repeat-password`). */
  idPrefix?: string;
  label?: string;
  repeatLabel?: string;
  disabled?: boolean;
}

/**
 * A new password typed twice, checked as the person types: its length (10..128) and that both
 * entries match. Used by the invitation page and the settings page.
 */
export function NewPasswordFields({
  password,
  repeat,
  onPasswordChange,
  onRepeatChange,
  idPrefix = '',
  label = 'Password',
  repeatLabel = 'Password again',
  disabled = false,
}: NewPasswordFieldsProps) {
  const passwordId = `${idPrefix}new-password`;
  const repeatId = `${idPrefix}repeat-password`;
  const problem = password === '' ? null : passwordProblem(password);
  const mismatch = repeat !== '' && repeat !== password ? 'The two passwords differ.' : null;

  return (
    <>
      <div className="field">
        <label htmlFor={passwordId}>{label}</label>
        <input
          id={passwordId}
          type="password"
          autoComplete="new-password"
          required
          value={password}
          onChange={(event) => onPasswordChange(event.target.value)}
          disabled={disabled}
          aria-invalid={problem !== null}
          aria-describedby={`${passwordId}-help`}
        />
        <p id={`${passwordId}-help`} className={problem ? 'field-error' : 'field-help'}>
          {problem ?? `${MIN_PASSWORD} to ${MAX_PASSWORD} characters.`}
        </p>
      </div>
      <div className="field">
        <label htmlFor={repeatId}>{repeatLabel}</label>
        <input
          id={repeatId}
          type="password"
          autoComplete="new-password"
          required
          value={repeat}
          onChange={(event) => onRepeatChange(event.target.value)}
          disabled={disabled}
          aria-invalid={mismatch !== null}
          aria-describedby={`${repeatId}-help`}
        />
        <p id={`${repeatId}-help`} className={mismatch ? 'field-error' : 'field-help'}>
          {mismatch ?? 'Type it once more, to be sure.'}
        </p>
      </div>
    </>
  );
}
