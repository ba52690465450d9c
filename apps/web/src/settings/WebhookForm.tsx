import { useRef, useState, type FormEvent } from 'react';
import { ApiError } from '../api/client';
import { FieldMessages } from '../answer/FieldMessages';
import { describeError } from '../layout/Status';
import {
  eventTypes,
  eventViews,
  formatViews,
  problemsByField,
  templatesOf,
  type WebhookField,
} from './webhook-present';
import {
  useCreateWebhook,
  type CreatedWebhookSubscription,
  type WebhookEventType,
  type WebhookFormat,
} from './webhook-queries';

const formats = Object.keys(formatViews) as WebhookFormat[];
/** What most people add a webhook for: being told that a question waits. */
const initialEvents: WebhookEventType[] = ['interaction.requested'];

/** What the person must fix before anything is sent; the gateway checks the rest. */
function localProblems(url: string, events: readonly WebhookEventType[]) {
  return {
    url: url.trim() === '' ? ['Enter the address to send notifications to.'] : [],
    events: events.length === 0 ? ['Choose at least one event.'] : [],
  };
}

/**
 * Adding a subscription (`POST /v1/webhooks`): URL, events, an optional template filter, format
 * and description. The gateway's refusals are shown at the field they name (`body.url`: a
 * private address, a bad scheme…), and focus goes to the first field with a problem.
 */
export function WebhookForm({
  onCreated,
}: {
  onCreated: (created: CreatedWebhookSubscription) => void;
}) {
  const [url, setUrl] = useState('');
  const [events, setEvents] = useState<WebhookEventType[]>(initialEvents);
  const [templates, setTemplates] = useState('');
  const [format, setFormat] = useState<WebhookFormat>('standard');
  const [description, setDescription] = useState('');
  const [local, setLocal] = useState<{ url: string[]; events: string[] } | null>(null);
  const refs = {
    url: useRef<HTMLInputElement>(null),
    events: useRef<HTMLInputElement>(null),
    templates: useRef<HTMLInputElement>(null),
    format: useRef<HTMLInputElement>(null),
    description: useRef<HTMLInputElement>(null),
  } satisfies Record<WebhookField, unknown>;

  // A webhook added leaves the form as it first was, ready for another (and not for a repeat).
  const create = useCreateWebhook((created) => {
    setUrl('');
    setEvents(initialEvents);
    setTemplates('');
    setFormat('standard');
    setDescription('');
    onCreated(created);
  });
  const remote = problemsByField(create.error instanceof ApiError ? create.error.problems : []);
  const problems: Record<WebhookField, string[]> = {
    ...remote,
    url: [...(local?.url ?? []), ...remote.url],
    events: [...(local?.events ?? []), ...remote.events],
  };
  const focusFirstProblem = (byField: Record<WebhookField, string[]>) => {
    const first = (Object.keys(refs) as WebhookField[]).find((name) => byField[name].length > 0);
    if (first) refs[first].current?.focus();
  };

  const edited = () => {
    if (create.isError) create.reset();
    if (local) setLocal(null);
  };

  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (create.isPending) return;
    const found = localProblems(url, events);
    if (found.url.length > 0 || found.events.length > 0) {
      setLocal(found);
      create.reset();
      focusFirstProblem({ ...found, templates: [], format: [], description: [] });
      return;
    }
    setLocal(null);
    create.mutate(
      {
        url: url.trim(),
        // In the form's order, whatever order they were ticked in.
        events: eventTypes.filter((type) => events.includes(type)),
        templates: templatesOf(templates),
        format,
        description: description.trim(),
      },
      {
        onError: (error) => {
          if (error instanceof ApiError) focusFirstProblem(problemsByField(error.problems));
        },
      },
    );
  };

  const toggle = (type: WebhookEventType, checked: boolean) => {
    setEvents((current) =>
      checked ? [...current, type] : current.filter((candidate) => candidate !== type),
    );
    edited();
  };

  const described = (field: WebhookField, help: boolean) =>
    help || problems[field].length > 0 ? `webhook-${field}-messages` : undefined;
  // A refusal that names no field of the form (or no field at all: a 409 at the limit).
  const formProblems = create.isError
    ? remote.form.length > 0
      ? remote.form
      : create.error instanceof ApiError && create.error.problems.length > 0
        ? []
        : [describeError(create.error)]
    : [];

  return (
    <form
      className="stack webhook-form"
      onSubmit={submit}
      noValidate
      aria-labelledby="webhook-form-heading"
    >
      <h3 id="webhook-form-heading">Add a webhook</h3>
      {formProblems.length > 0 && (
        <div className="notice notice-error" role="alert">
          <p className="notice-title">The webhook was not added</p>
          {formProblems.map((problem) => (
            <p key={problem}>{problem}</p>
          ))}
        </div>
      )}
      <div className="field">
        <label htmlFor="webhook-url">URL</label>
        <input
          id="webhook-url"
          ref={refs.url}
          type="text"
          inputMode="url"
          autoComplete="url"
          spellCheck={false}
          placeholder="https://hooks.example.com/stepwise"
          value={url}
          onChange={(event) => {
            setUrl(event.target.value);
            edited();
          }}
          aria-invalid={problems.url.length > 0}
          aria-describedby={described('url', true)}
        />
        <FieldMessages
          id="webhook-url-messages"
          help="Where notifications are sent (http:// or https://). Put a token in the path, not a user name or password."
          problems={problems.url}
        />
      </div>
      <fieldset className="webhook-fieldset" aria-describedby={described('events', false)}>
        <legend>Events</legend>
        {eventTypes.map((type, index) => (
          <div key={type} className="field-check webhook-check">
            <input
              id={`webhook-event-${type}`}
              ref={index === 0 ? refs.events : undefined}
              type="checkbox"
              checked={events.includes(type)}
              onChange={(event) => toggle(type, event.target.checked)}
              aria-describedby={
                problems.events.length > 0
                  ? `webhook-event-${type}-help webhook-events-messages`
                  : `webhook-event-${type}-help`
              }
              aria-invalid={problems.events.length > 0}
            />
            <label htmlFor={`webhook-event-${type}`}>
              {eventViews[type].label} <span className="mono muted">{type}</span>
            </label>
            <p id={`webhook-event-${type}-help`} className="field-help webhook-check-help">
              {eventViews[type].description}
            </p>
          </div>
        ))}
        <FieldMessages id="webhook-events-messages" problems={problems.events} />
      </fieldset>
      <div className="field">
        <label htmlFor="webhook-templates">
          Only for these templates <span className="required">(optional)</span>
        </label>
        <input
          id="webhook-templates"
          ref={refs.templates}
          type="text"
          spellCheck={false}
          autoComplete="off"
          placeholder="onboarding, pet_clips"
          value={templates}
          onChange={(event) => {
            setTemplates(event.target.value);
            edited();
          }}
          aria-invalid={problems.templates.length > 0}
          aria-describedby={described('templates', true)}
        />
        <FieldMessages
          id="webhook-templates-messages"
          help="Template names separated by commas. Leave empty to hear about runs of every template."
          problems={problems.templates}
        />
      </div>
      <fieldset className="webhook-fieldset" aria-describedby={described('format', false)}>
        <legend>Format</legend>
        {formats.map((value, index) => (
          <div key={value} className="field-check webhook-check">
            <input
              id={`webhook-format-${value}`}
              ref={index === 0 ? refs.format : undefined}
              type="radio"
              name="webhook-format"
              value={value}
              checked={format === value}
              onChange={() => {
                setFormat(value);
                edited();
              }}
              aria-describedby={`webhook-format-${value}-help`}
            />
            <label htmlFor={`webhook-format-${value}`}>{formatViews[value].label}</label>
            <p id={`webhook-format-${value}-help`} className="field-help webhook-check-help">
              {formatViews[value].description}
            </p>
          </div>
        ))}
        <FieldMessages id="webhook-format-messages" problems={problems.format} />
      </fieldset>
      <div className="field">
        <label htmlFor="webhook-description">
          Description <span className="required">(optional)</span>
        </label>
        <input
          id="webhook-description"
          ref={refs.description}
          type="text"
          maxLength={200}
          autoComplete="off"
          placeholder="Team channel"
          value={description}
          onChange={(event) => {
            setDescription(event.target.value);
            edited();
          }}
          aria-invalid={problems.description.length > 0}
          aria-describedby={described('description', true)}
        />
        <FieldMessages
          id="webhook-description-messages"
          help="For you: what this webhook is for (up to 200 characters)."
          problems={problems.description}
        />
      </div>
      <div className="actions">
        <button type="submit" className="button button-primary" disabled={create.isPending}>
          {create.isPending ? 'Adding…' : 'Add webhook'}
        </button>
      </div>
    </form>
  );
}
