import { useId, useState, type FormEvent } from 'react';
import type { components } from '@stepwise/client';
import { lengthOf, rulesHelp, textProblems } from './checks';
import { FieldMessages } from './FieldMessages';
import { problemsAt, type QuestionProps } from './types';

type TextInputRequest = components['schemas']['TextInputRequest'];

/** Short answers get one line; longer ones (or unbounded ones) a text area. */
const SINGLE_LINE_MAX = 120;

export function TextInputQuestion({
  request,
  sending,
  problems,
  onAnswer,
}: QuestionProps<TextInputRequest>) {
  const id = useId();
  const [value, setValue] = useState(request.default ?? '');
  const [touched, setTouched] = useState(value !== '');
  const local = textProblems(value, request);
  // Server problems are about what was sent: show them until the text changes.
  const [sentValue, setSentValue] = useState<string | null>(null);
  const server = sentValue === value ? problemsAt(problems, 'response.value') : [];
  const shown = [...(touched ? local : []), ...server];
  const help = [
    rulesHelp(request, lengthOf(value)),
    request.pattern ? `Format: ${request.pattern}` : null,
  ]
    .filter((line) => line !== null)
    .join(' ');
  const messagesId = `${id}-messages`;
  const singleLine = request.max_length !== null && request.max_length <= SINGLE_LINE_MAX;

  const submit = (event: FormEvent) => {
    event.preventDefault();
    setTouched(true);
    if (local.length > 0 || sending) return;
    setSentValue(value);
    onAnswer({ value });
  };

  const common = {
    id,
    value,
    'aria-invalid': shown.length > 0,
    'aria-describedby': help !== '' || shown.length > 0 ? messagesId : undefined,
    onChange: (event: { target: { value: string } }) => {
      setValue(event.target.value);
      setTouched(true);
    },
  };

  return (
    <form onSubmit={submit} className="stack">
      <div className="field">
        <label htmlFor={id} className="question-prompt">
          {request.prompt}
        </label>
        {singleLine ? <input type="text" {...common} /> : <textarea rows={6} {...common} />}
        <FieldMessages id={messagesId} help={help} problems={shown} />
      </div>
      <div className="actions">
        <button
          type="submit"
          className="button button-primary"
          disabled={sending || local.length > 0}
        >
          {sending ? 'Sending…' : 'Send answer'}
        </button>
      </div>
    </form>
  );
}
