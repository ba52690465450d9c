import { classify, questionText, type PendingInteraction } from '../api/requests';
import { isRecord, textField, type RunEvent } from './events';

/** Longest quoted text in a sentence; the rest is in the event's details. */
const QUOTE_LIMIT = 160;

export function quote(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  const short = flat.length > QUOTE_LIMIT ? `${flat.slice(0, QUOTE_LIMIT - 1)}…` : flat;
  return `“${short}”`;
}

/** A JSON value in one short line. */
function shortJson(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > QUOTE_LIMIT ? `${text.slice(0, QUOTE_LIMIT - 1)}…` : text;
}

/**
 * The question an `interaction_requested` event asked, as a pending interaction (the shape the
 * answer page and `classify` read). The gateway checked the request against its module's schema
 * when it was written; `classify` still checks the built-in shapes before anything reads them.
 */
export function questionOf(event: RunEvent): PendingInteraction | null {
  if (event.event_type !== 'interaction_requested') return null;
  const interactionId = textField(event.data, 'interaction_id');
  const moduleId = textField(event.data, 'module_id');
  const request = event.data['request'];
  if (interactionId === null || moduleId === null || !isRecord(request)) return null;
  return {
    interaction_id: interactionId,
    module_id: moduleId,
    step_id: event.step_id ?? '',
    module_name: event.module_name ?? '',
    request: request as PendingInteraction['request'],
  };
}

/** What a question asked, in one line. */
export function askedText(question: PendingInteraction): string {
  return quote(questionText(question));
}

/** An option's title: the text itself, or the most name-like field of an object option. */
function optionTitle(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (isRecord(value)) {
    for (const name of ['title', 'label', 'name', 'text', 'caption', 'id']) {
      const field = value[name];
      if (typeof field === 'string' && field.trim() !== '') return field;
    }
  }
  return shortJson(value);
}

function listed(items: string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items.at(-1) ?? ''}`;
}

/**
 * What a person did when they answered, as the verb phrase of a sentence: "answered “blue”",
 * "approved “Publish this clip?”", "uploaded 2 files". The question (when its request is among
 * the events read) turns option indices into the options' titles.
 */
export function answerPhrase(question: PendingInteraction | null, response: unknown): string {
  if (!isRecord(response)) return `answered ${shortJson(response)}`;
  const known = question ? classify(question) : null;
  const indices = response['selected_indices'];
  if (Array.isArray(indices)) {
    const options = known?.module === 'user.select' ? known.request.options : [];
    const titles = indices.map((index: unknown) => {
      const option = options.find((candidate) => candidate.index === index);
      return option ? quote(optionTitle(option.value)) : `option ${String(index)}`;
    });
    return titles.length === 0 ? 'chose nothing' : `chose ${listed(titles)}`;
  }
  if (typeof response['value'] === 'string') return `answered ${quote(response['value'])}`;
  if (typeof response['confirmed'] === 'boolean') {
    const verb = response['confirmed'] ? 'approved' : 'rejected';
    return known?.module === 'user.confirm' ? `${verb} ${quote(known.request.message)}` : verb;
  }
  const values = response['values'];
  if (isRecord(values)) {
    const fields = Object.entries(values).map(
      ([name, value]) => `${name} ${typeof value === 'string' ? quote(value) : shortJson(value)}`,
    );
    return fields.length === 0 ? 'sent an empty form' : `filled in ${listed(fields)}`;
  }
  const files = response['artifact_ids'];
  if (Array.isArray(files))
    return `uploaded ${files.length} ${files.length === 1 ? 'file' : 'files'}`;
  return `answered ${shortJson(response)}`;
}
