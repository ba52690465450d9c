import type { components } from '@stepwise/client';

type Schemas = components['schemas'];
type DisplayItem = Schemas['DisplayItem'];

/** user.file_input's request (media.md). */
export type FileInputRequest = Schemas['FileInputRequest'];

/** A run's pending interaction (the same shape as an inbox item's `pending_interaction`). */
export type PendingInteraction = NonNullable<Schemas['Run']['pending_interaction']>;

/** The request of a built-in module, by its `module_id`. */
interface BuiltInRequests {
  'user.select': Schemas['SelectRequest'];
  'user.text_input': Schemas['TextInputRequest'];
  'user.form': Schemas['FormRequest'];
  'user.confirm': Schemas['ConfirmRequest'];
  'user.file_input': FileInputRequest;
}

/**
 * A pending interaction's `request`, told apart. The contract types it as a union of the built-in
 * modules' request schemas and a plugin's loose object (`PluginRequest`); which one it is follows
 * from the interaction's `module_id`, which the union itself does not carry. `classify` is the one
 * place that narrows it: everything else reads the result.
 */
export type KnownRequest =
  | {
      [Module in keyof BuiltInRequests]: { module: Module; request: BuiltInRequests[Module] };
    }[keyof BuiltInRequests]
  | { module: 'other'; request: Schemas['PluginRequest'] };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Whether a request has the fields the app reads for its module. The gateway validates requests
 * against these schemas, so this only guards against a gateway newer than the app: a request that
 * fails it is shown as a plugin's (its JSON) rather than breaking the page.
 */
const looksLike: {
  [Module in keyof BuiltInRequests]: (request: Record<string, unknown>) => boolean;
} = {
  'user.select': (request) =>
    typeof request['prompt'] === 'string' &&
    Array.isArray(request['options']) &&
    request['options'].every(
      (option: unknown) => isRecord(option) && typeof option['index'] === 'number',
    ) &&
    typeof request['multi'] === 'boolean',
  'user.text_input': (request) => typeof request['prompt'] === 'string',
  'user.form': (request) =>
    Array.isArray(request['fields']) &&
    request['fields'].every(
      (field: unknown) =>
        isRecord(field) && typeof field['name'] === 'string' && typeof field['type'] === 'string',
    ),
  'user.confirm': (request) => typeof request['message'] === 'string',
  'user.file_input': (request) =>
    typeof request['prompt'] === 'string' &&
    Array.isArray(request['accept']) &&
    request['accept'].every((type: unknown) => typeof type === 'string') &&
    typeof request['max_bytes'] === 'number' &&
    typeof request['min_files'] === 'number' &&
    typeof request['max_files'] === 'number',
};

function isBuiltIn(moduleId: string): moduleId is keyof BuiltInRequests {
  return Object.hasOwn(looksLike, moduleId);
}

export function classify(interaction: PendingInteraction): KnownRequest {
  const { module_id: moduleId, request } = interaction;
  if (isBuiltIn(moduleId) && looksLike[moduleId](request)) {
    // The module id says which member of the union this is (checked just above).
    return { module: moduleId, request } as KnownRequest;
  }
  return { module: 'other', request };
}

function nonBlank(text: unknown): string | null {
  return typeof text === 'string' && text.trim() !== '' ? text.trim() : null;
}

/** The question in one line: the prompt or message, else the module's name in the workflow. */
export function questionText(interaction: PendingInteraction): string {
  const known = classify(interaction);
  const text =
    known.module === 'user.confirm'
      ? nonBlank(known.request.message)
      : known.module === 'other'
        ? // A plugin's request has no fixed fields; many still carry a prompt or a message.
          (nonBlank(known.request['prompt']) ?? nonBlank(known.request['message']))
        : nonBlank(known.request.prompt);
  return text ?? humanize(interaction.module_name);
}

/** The `display` items of a request (every request schema may carry them). */
export function displayOf(request: PendingInteraction['request']): DisplayItem[] {
  return request.display ?? [];
}

/** `pick_idea` → "Pick idea": a readable name where only an identifier is known. */
export function humanize(name: string): string {
  const words = name.replace(/[_.-]+/g, ' ').trim();
  return words === '' ? name : words.charAt(0).toUpperCase() + words.slice(1);
}
