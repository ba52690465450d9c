import { useId, type Ref } from 'react';

/**
 * The one choice every "go back" form offers (a retry, an answer given again, a restart onto
 * another version): questions that come out exactly as before are answered with the earlier
 * answers (`reuse_answers`, versions.md "Reusing answers"). Off unless the person turns it on:
 * the default is to ask everything again.
 */
export function ReuseAnswersField({
  checked,
  onChange,
  help,
  inputRef,
}: {
  checked: boolean;
  onChange: (checked: boolean) => void;
  /** What it means for this form: which question is asked all the same. */
  help: string;
  /** For the form that opens on it to focus it. */
  inputRef?: Ref<HTMLInputElement>;
}) {
  const id = useId();
  const helpId = `${id}-help`;
  return (
    <div className="field field-check reuse-answers">
      <input
        ref={inputRef}
        id={id}
        type="checkbox"
        checked={checked}
        onChange={(event) => onChange(event.target.checked)}
        aria-describedby={helpId}
      />
      <label htmlFor={id}>Don’t ask again questions that come out the same</label>
      <p id={helpId} className="field-help field-messages">
        {help}
      </p>
    </div>
  );
}
