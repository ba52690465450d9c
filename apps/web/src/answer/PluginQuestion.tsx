import { useId, useState, type FormEvent } from 'react';
import type { components } from '@stepwise/client';
import type { QuestionProps } from './types';

/**
 * A module the app has no renderer for (a plugin's): its request as JSON, and its answer typed as
 * a JSON object, so a person can still move the run on.
 */
export function PluginQuestion({
  request,
  moduleId,
  sending,
  problems,
  onAnswer,
}: QuestionProps<components['schemas']['PluginRequest']> & { moduleId: string }) {
  const id = useId();
  const [text, setText] = useState('{}');
  const [parseError, setParseError] = useState<string | null>(null);
  const { display: _display, ...shown } = request;

  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (sending) return;
    try {
      const value: unknown = JSON.parse(text);
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        setParseError('The answer must be a JSON object, like {"key": "value"}.');
        return;
      }
      setParseError(null);
      onAnswer(value as Record<string, unknown>);
    } catch {
      setParseError('This is not valid JSON.');
    }
  };

  return (
    <form onSubmit={submit} className="stack">
      <p>
        The module <span className="mono">{moduleId}</span> asks this:
      </p>
      <pre className="json" tabIndex={0} aria-label="The request (JSON)">
        {JSON.stringify(shown, null, 2)}
      </pre>
      <div className="field">
        <label htmlFor={id}>Your answer (a JSON object)</label>
        <textarea
          id={id}
          className="mono"
          rows={6}
          value={text}
          onChange={(event) => setText(event.target.value)}
          aria-invalid={parseError !== null}
          aria-describedby={`${id}-messages`}
        />
        <div id={`${id}-messages`}>
          {parseError && <p className="field-error">{parseError}</p>}
          {problems.map((problem) => (
            <p key={problem.path + problem.message} className="field-error">
              {problem.path}: {problem.message}
            </p>
          ))}
        </div>
      </div>
      <div className="actions">
        <button type="submit" className="button button-primary" disabled={sending}>
          {sending ? 'Sending…' : 'Send answer'}
        </button>
      </div>
    </form>
  );
}
