import { useEffect, useRef } from 'react';
import { FieldMessages } from '../answer/FieldMessages';
import {
  addedEntry,
  valueKinds,
  type EntryProblems,
  type StateEntry,
  type ValueKind,
} from './initialState';
import { StateValueInput } from './StateValueInput';

function isValueKind(value: string): value is ValueKind {
  return valueKinds.some((option) => option.kind === value);
}

/** A key the person added: its name, what its value is, the value, and a way to remove it. */
function AddedEntry({
  entry,
  position,
  problems,
  onChange,
  onRemove,
}: {
  entry: StateEntry;
  position: number;
  problems: EntryProblems | undefined;
  onChange: (next: Partial<StateEntry>) => void;
  onRemove: () => void;
}) {
  const base = `state-extra-${entry.id}`;
  const name = entry.key.trim() === '' ? `extra key ${position}` : entry.key;
  return (
    <fieldset className="state-extra">
      <legend>Extra key {position}</legend>
      <div className="state-extra-row">
        <div className="field">
          <label htmlFor={`${base}-key`}>Key</label>
          <input
            id={`${base}-key`}
            type="text"
            value={entry.key}
            autoComplete="off"
            spellCheck={false}
            onChange={(event) => onChange({ key: event.target.value })}
            aria-invalid={problems?.key !== undefined}
            aria-describedby={problems?.key !== undefined ? `${base}-key-messages` : undefined}
          />
          <FieldMessages
            id={`${base}-key-messages`}
            problems={problems?.key === undefined ? [] : [problems.key]}
          />
        </div>
        <div className="field">
          <label htmlFor={`${base}-kind`}>Type</label>
          <select
            id={`${base}-kind`}
            value={entry.kind}
            onChange={(event) => {
              const kind = event.target.value;
              if (isValueKind(kind)) onChange({ kind });
            }}
          >
            {valueKinds.map((option) => (
              <option key={option.kind} value={option.kind}>
                {option.label}
              </option>
            ))}
          </select>
        </div>
      </div>
      <StateValueInput
        entry={entry}
        inputId={`${base}-value`}
        label={entry.kind === 'boolean' ? `${name}: yes` : 'Value'}
        problem={problems?.value}
        onChange={onChange}
      />
      <button type="button" className="button button-quiet" onClick={onRemove}>
        Remove<span className="visually-hidden"> {name}</span>
      </button>
    </fieldset>
  );
}

/**
 * The run's initial state: a field per key the workflow declares (its value the default), and
 * extra keys the person adds. Entries live in the parent form, which reads them on submit.
 */
export function InitialStateFields({
  entries,
  problems,
  onChange,
}: {
  entries: StateEntry[];
  problems: ReadonlyMap<number, EntryProblems>;
  onChange: (entries: StateEntry[]) => void;
}) {
  const update = (id: number, next: Partial<StateEntry>) =>
    onChange(entries.map((entry) => (entry.id === id ? { ...entry, ...next } : entry)));
  // A key just added gets the focus, so a keyboard user types its name next.
  const focusNext = useRef<number | null>(null);
  useEffect(() => {
    if (focusNext.current === null) return;
    document.getElementById(`state-extra-${focusNext.current}-key`)?.focus();
    focusNext.current = null;
  }, [entries]);
  const declared = entries.filter((entry) => entry.declared);
  const added = entries.filter((entry) => !entry.declared);
  return (
    <fieldset className="initial-state">
      <legend>Initial state</legend>
      {declared.length === 0 ? (
        <p className="field-help">
          This workflow declares no initial state. Add keys if it reads any.
        </p>
      ) : (
        <p className="field-help">The workflow&rsquo;s declared values; change any of them.</p>
      )}
      {declared.map((entry) => (
        <StateValueInput
          key={entry.id}
          entry={entry}
          inputId={`state-${entry.id}`}
          label={<code>{entry.key}</code>}
          problem={problems.get(entry.id)?.value}
          onChange={(next) => update(entry.id, next)}
        />
      ))}
      {added.map((entry, index) => (
        <AddedEntry
          key={entry.id}
          entry={entry}
          position={index + 1}
          problems={problems.get(entry.id)}
          onChange={(next) => update(entry.id, next)}
          onRemove={() => onChange(entries.filter((other) => other.id !== entry.id))}
        />
      ))}
      <div>
        <button
          type="button"
          className="button"
          onClick={() => {
            const entry = addedEntry();
            focusNext.current = entry.id;
            onChange([...entries, entry]);
          }}
        >
          Add a key
        </button>
      </div>
    </fieldset>
  );
}
