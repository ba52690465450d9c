import { useId, useState, type FormEvent } from 'react';
import type { components } from '@stepwise/client';
import { humanize } from '../api/requests';
import { rulesHelp, textProblems, lengthOf } from './checks';
import { FieldMessages } from './FieldMessages';
import { problemsAt, type QuestionProps } from './types';

type FormField = components['schemas']['FormField'];
type FormRequest = components['schemas']['FormRequest'];

/** What an input holds: text for string, number (as typed) and enum fields; a flag for booleans. */
type Draft = Record<string, string | boolean>;

function initialDraft(fields: FormField[]): Draft {
  const draft: Draft = {};
  for (const field of fields) {
    if (field.type === 'boolean') draft[field.name] = field.default === true;
    else draft[field.name] = field.default === undefined ? '' : String(field.default);
  }
  return draft;
}

function labelOf(field: FormField): string {
  return field.label !== undefined && field.label.trim() !== ''
    ? field.label
    : humanize(field.name);
}

/** A line under the input saying what it takes, from the field's declaration. */
function helpOf(field: FormField, draft: string | boolean): string | null {
  switch (field.type) {
    case 'string':
      return (
        [
          rulesHelp(field, typeof draft === 'string' ? lengthOf(draft) : 0),
          field.pattern ? `Format: ${field.pattern}` : null,
        ]
          .filter((line) => line !== null)
          .join(' ') || null
      );
    case 'number':
      if (field.min !== undefined && field.max !== undefined)
        return `A number from ${field.min} to ${field.max}.`;
      if (field.min !== undefined) return `A number, at least ${field.min}.`;
      if (field.max !== undefined) return `A number, at most ${field.max}.`;
      return 'A number.';
    default:
      return null;
  }
}

/** The problems with a field's draft, as the runner would see them (user-form.ts). */
function problemsOf(field: FormField, draft: string | boolean): string[] {
  if (field.type === 'boolean') return [];
  const text = typeof draft === 'string' ? draft : '';
  if (text === '') return field.required ? ['Required.'] : [];
  if (field.type === 'string') return textProblems(text, field);
  if (field.type === 'number') {
    const value = Number(text);
    if (!Number.isFinite(value)) return ['Must be a number.'];
    if (field.min !== undefined && value < field.min) return [`At least ${field.min}.`];
    if (field.max !== undefined && value > field.max) return [`At most ${field.max}.`];
    return [];
  }
  return (field.options ?? []).includes(text) ? [] : ['Choose one of the options.'];
}

/** The answer's `values`: numbers as numbers, empty optional fields left out. */
function valuesOf(fields: FormField[], draft: Draft): Record<string, string | number | boolean> {
  const values: Record<string, string | number | boolean> = {};
  for (const field of fields) {
    const value = draft[field.name];
    if (value === undefined || value === '') continue;
    values[field.name] =
      field.type === 'number' && typeof value === 'string' ? Number(value) : value;
  }
  return values;
}

function FieldInput({
  field,
  id,
  value,
  describedBy,
  invalid,
  onChange,
}: {
  field: FormField;
  id: string;
  value: string | boolean;
  describedBy: string | undefined;
  invalid: boolean;
  onChange: (value: string | boolean) => void;
}) {
  const aria = { 'aria-describedby': describedBy, 'aria-invalid': invalid };
  const text = typeof value === 'string' ? value : '';
  switch (field.type) {
    case 'boolean':
      return (
        <input
          id={id}
          type="checkbox"
          checked={value === true}
          onChange={(event) => onChange(event.target.checked)}
          {...aria}
        />
      );
    case 'enum':
      return (
        <select id={id} value={text} onChange={(event) => onChange(event.target.value)} {...aria}>
          <option value="">{field.required ? 'Choose…' : '(none)'}</option>
          {(field.options ?? []).map((option) => (
            <option key={option} value={option}>
              {option}
            </option>
          ))}
        </select>
      );
    case 'number':
      return (
        <input
          id={id}
          type="number"
          inputMode="decimal"
          value={text}
          min={field.min}
          max={field.max}
          step="any"
          onChange={(event) => onChange(event.target.value)}
          {...aria}
        />
      );
    case 'string':
      return field.max_length !== undefined && field.max_length <= 120 ? (
        <input
          id={id}
          type="text"
          value={text}
          onChange={(event) => onChange(event.target.value)}
          {...aria}
        />
      ) : (
        <textarea
          id={id}
          rows={4}
          value={text}
          onChange={(event) => onChange(event.target.value)}
          {...aria}
        />
      );
  }
}

export function FormQuestion({ request, sending, problems, onAnswer }: QuestionProps<FormRequest>) {
  const formId = useId();
  const [draft, setDraft] = useState<Draft>(() => initialDraft(request.fields));
  const [touched, setTouched] = useState<Set<string>>(() => new Set());
  const [submitted, setSubmitted] = useState<Draft | null>(null);
  const local = new Map(
    request.fields.map((field) => [field.name, problemsOf(field, draft[field.name] ?? '')]),
  );
  const valid = [...local.values()].every((list) => list.length === 0);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    setTouched(new Set(request.fields.map((field) => field.name)));
    if (!valid || sending) return;
    setSubmitted(draft);
    onAnswer({ values: valuesOf(request.fields, draft) });
  };

  return (
    <form onSubmit={submit} className="stack" noValidate>
      {request.prompt !== null && <p className="question-prompt">{request.prompt}</p>}
      {request.fields.map((field) => {
        const id = `${formId}-${field.name}`;
        const value = draft[field.name] ?? '';
        // Server problems are about what was sent: shown until that field changes.
        const server =
          submitted !== null && submitted[field.name] === value
            ? problemsAt(problems, `response.values.${field.name}`)
            : [];
        const shown = [
          ...(touched.has(field.name) ? (local.get(field.name) ?? []) : []),
          ...server,
        ];
        const help = helpOf(field, value);
        const messagesId = `${id}-messages`;
        const input = (
          <FieldInput
            field={field}
            id={id}
            value={value}
            invalid={shown.length > 0}
            describedBy={help || shown.length > 0 ? messagesId : undefined}
            onChange={(next) => {
              setDraft((current) => ({ ...current, [field.name]: next }));
              setTouched((current) => new Set(current).add(field.name));
            }}
          />
        );
        return (
          <div
            key={field.name}
            className={field.type === 'boolean' ? 'field field-check' : 'field'}
          >
            {field.type === 'boolean' && input}
            <label htmlFor={id}>
              {labelOf(field)}
              {field.required && field.type !== 'boolean' && (
                <span className="required"> (required)</span>
              )}
            </label>
            {field.type !== 'boolean' && input}
            <FieldMessages id={messagesId} help={help} problems={shown} />
          </div>
        );
      })}
      {/* Problems the fields do not own (an unknown field, the answer as a whole). */}
      {problems
        .filter(
          (problem) => !request.fields.some((f) => problem.path === `response.values.${f.name}`),
        )
        .map((problem) => (
          <p key={problem.path + problem.message} className="field-error">
            {problem.message}
          </p>
        ))}
      <div className="actions">
        <button type="submit" className="button button-primary" disabled={sending}>
          {sending ? 'Sending…' : 'Send answer'}
        </button>
      </div>
    </form>
  );
}
