import type { ReactNode } from 'react';
import { FieldMessages } from '../answer/FieldMessages';
import type { StateEntry } from './initialState';

/** The help under a value, by what it is edited as. */
const helpByKind: Partial<Record<StateEntry['kind'], string>> = {
  json: 'A JSON value: "text" in quotes, a number, true or false, null, [a list] or {an object}.',
};

/**
 * One value of the initial state, edited as what it is: a text input, a number input, a checkbox,
 * or a JSON textarea. `label` names it (the key, for a declared one).
 */
export function StateValueInput({
  entry,
  inputId,
  label,
  problem,
  onChange,
}: {
  entry: StateEntry;
  inputId: string;
  label: ReactNode;
  problem: string | undefined;
  onChange: (next: Partial<StateEntry>) => void;
}) {
  const messagesId = `${inputId}-messages`;
  const help = helpByKind[entry.kind];
  const problems = problem === undefined ? [] : [problem];
  const describedBy = help !== undefined || problem !== undefined ? messagesId : undefined;
  if (entry.kind === 'boolean') {
    return (
      <div className="field-check">
        <input
          id={inputId}
          type="checkbox"
          checked={entry.checked}
          onChange={(event) => onChange({ checked: event.target.checked })}
          aria-describedby={describedBy}
        />
        <label htmlFor={inputId}>{label}</label>
        <FieldMessages id={messagesId} help={help} problems={problems} />
      </div>
    );
  }
  return (
    <div className="field">
      <label htmlFor={inputId}>{label}</label>
      {entry.kind === 'json' ? (
        <textarea
          id={inputId}
          className="state-json"
          rows={Math.min(10, Math.max(3, entry.text.split('\n').length))}
          value={entry.text}
          spellCheck={false}
          onChange={(event) => onChange({ text: event.target.value })}
          aria-invalid={problem !== undefined}
          aria-describedby={describedBy}
        />
      ) : (
        <input
          id={inputId}
          type={entry.kind === 'number' ? 'number' : 'text'}
          step={entry.kind === 'number' ? 'any' : undefined}
          value={entry.text}
          onChange={(event) => onChange({ text: event.target.value })}
          aria-invalid={problem !== undefined}
          aria-describedby={describedBy}
        />
      )}
      <FieldMessages id={messagesId} help={help} problems={problems} />
    </div>
  );
}
