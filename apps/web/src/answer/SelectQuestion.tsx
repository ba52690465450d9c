import { useQuery } from '@tanstack/react-query';
import { useId, useState, type FormEvent } from 'react';
import type { components } from '@stepwise/client';
import { artifactKey, fetchArtifact } from '../api/artifacts';
import { formatDateTime } from '../util/time';
import { FieldMessages } from './FieldMessages';
import { LazyMarkdown } from './LazyMarkdown';
import { ArtifactImage, OriginalLink } from './ArtifactImage';
import { artifactIdOf, mediaUrl } from './media';
import { problemsAt, type QuestionProps } from './types';

type SelectOption = components['schemas']['SelectOption'];
type SelectRequest = components['schemas']['SelectRequest'];

/** An option's title: the text itself, or the most name-like field of an object option. */
function titleOf(option: SelectOption): string {
  const value = option.value;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const fields = value as Record<string, unknown>;
    for (const name of ['title', 'label', 'name', 'text', 'caption', 'id']) {
      const field = fields[name];
      if (typeof field === 'string' && field.trim() !== '') return field;
    }
  }
  return JSON.stringify(value);
}

/**
 * The title of an option that is an artifact id (one of the pictures a job just made, or that a
 * person uploaded): the artifact's name, which says more than its id; its number until known.
 */
function useArtifactTitle(option: SelectOption): string | null {
  const id =
    typeof option.value === 'string' && option.image !== undefined && option.value === option.image
      ? artifactIdOf(option.value)
      : null;
  const meta = useQuery({
    queryKey: artifactKey(id ?? ''),
    queryFn: ({ signal }) => fetchArtifact(id ?? '', signal),
    enabled: id !== null,
    staleTime: Infinity,
  });
  if (id === null) return null;
  return meta.data?.name ?? `Picture ${option.index + 1}`;
}

function OptionCard({
  option,
  multi,
  name,
  checked,
  onToggle,
}: {
  option: SelectOption;
  multi: boolean;
  name: string;
  checked: boolean;
  onToggle: () => void;
}) {
  // An artifact is shown by its preview (a few dozen KB, not the original's megabytes).
  const artifactId = option.image !== undefined ? artifactIdOf(option.image) : null;
  const image = option.image !== undefined && artifactId === null ? mediaUrl(option.image) : null;
  const id = `${name}-${option.index}`;
  const title = useArtifactTitle(option) ?? titleOf(option);
  return (
    <li className={checked ? 'option-card option-card-selected' : 'option-card'}>
      {/* A native radio or checkbox: arrow keys move between radios, space toggles, enter submits. */}
      <label className="option-label" htmlFor={id}>
        <input
          id={id}
          className="option-input"
          type={multi ? 'checkbox' : 'radio'}
          name={name}
          checked={checked}
          onChange={onToggle}
        />
        {artifactId && <ArtifactImage artifactId={artifactId} alt="" className="option-image" />}
        {image && <img className="option-image" src={image} alt="" loading="lazy" />}
        <span className="option-title">{title}</span>
        {checked && (
          // The radio's own state is what assistive technology reads; this mark is for the eye.
          <span className="option-check" aria-hidden="true">
            ✓ Chosen
          </span>
        )}
        {option.last_used !== null && (
          <span className="badge">
            Last chosen <time dateTime={option.last_used}>{formatDateTime(option.last_used)}</time>
          </span>
        )}
      </label>
      {artifactId && (
        <p className="option-original">
          <OriginalLink artifactId={artifactId}>
            Full size<span className="visually-hidden"> of {title}</span>
          </OriginalLink>
        </p>
      )}
      {option.description !== undefined && option.description !== '' && (
        <details className="option-details">
          <summary>
            Read more<span className="visually-hidden"> about {title}</span>
          </summary>
          <LazyMarkdown text={option.description} />
        </details>
      )}
    </li>
  );
}

export function SelectQuestion({
  request,
  sending,
  problems,
  onAnswer,
}: QuestionProps<SelectRequest>) {
  const name = useId();
  const [selected, setSelected] = useState<number[]>([]);
  const min = request.multi ? request.min : 1;
  const max = request.multi ? request.max : 1;
  const toggle = (index: number) =>
    setSelected((current) => {
      if (!request.multi) return [index];
      return current.includes(index)
        ? current.filter((chosen) => chosen !== index)
        : [...current, index].sort((a, b) => a - b);
    });
  const countOk = selected.length >= min && selected.length <= max;
  const help = request.multi
    ? min === max
      ? `Choose ${min}.`
      : `Choose between ${min} and ${max} (${selected.length} chosen).`
    : null;
  const messagesId = `${name}-messages`;
  // Pictures to judge get larger cards.
  const withImages = request.options.some((option) => option.image !== undefined);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (countOk && !sending) onAnswer({ selected_indices: selected });
  };

  return (
    <form onSubmit={submit} className="stack">
      <fieldset
        className="options"
        aria-describedby={help || problems.length ? messagesId : undefined}
      >
        <legend className="question-prompt">{request.prompt}</legend>
        <ul className={withImages ? 'option-list option-list-media' : 'option-list'}>
          {request.options.map((option) => (
            <OptionCard
              key={option.index}
              option={option}
              multi={request.multi}
              name={name}
              checked={selected.includes(option.index)}
              onToggle={() => toggle(option.index)}
            />
          ))}
        </ul>
        <FieldMessages
          id={messagesId}
          help={help}
          problems={[
            ...(selected.length > max ? [`That is ${selected.length - max} too many.`] : []),
            ...problemsAt(problems, 'response.selected_indices'),
          ]}
        />
      </fieldset>
      <div className="actions">
        <button type="submit" className="button button-primary" disabled={!countOk || sending}>
          {sending ? 'Sending…' : request.multi ? 'Send choices' : 'Send choice'}
        </button>
      </div>
    </form>
  );
}
