import type {
  ConfirmRequest,
  DisplayItem,
  FormRequest,
  PendingInteraction,
  SelectRequest,
  TextInputRequest,
} from './pending-contract';

/**
 * A pending interaction's `request` is typed `unknown` by the contract (its shape depends on the
 * module). These guards tell the built-in modules' requests apart by `module_id`, checking the
 * fields the app reads, so a malformed or plugin request falls back to a plain view.
 */
export type KnownRequest =
  | { module: 'user.select'; request: SelectRequest }
  | { module: 'user.text_input'; request: TextInputRequest }
  | { module: 'user.form'; request: FormRequest }
  | { module: 'user.confirm'; request: ConfirmRequest }
  | { module: 'other'; request: Record<string, unknown> };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isSelect(request: Record<string, unknown>): boolean {
  return (
    typeof request['prompt'] === 'string' &&
    Array.isArray(request['options']) &&
    request['options'].every(
      (option: unknown) => isRecord(option) && typeof option['index'] === 'number',
    ) &&
    typeof request['multi'] === 'boolean'
  );
}

function isForm(request: Record<string, unknown>): boolean {
  return (
    Array.isArray(request['fields']) &&
    request['fields'].every(
      (field: unknown) =>
        isRecord(field) && typeof field['name'] === 'string' && typeof field['type'] === 'string',
    )
  );
}

export function classify(interaction: PendingInteraction): KnownRequest {
  const request = isRecord(interaction.request) ? interaction.request : {};
  switch (interaction.module_id) {
    case 'user.select':
      if (isSelect(request))
        return { module: 'user.select', request: request as unknown as SelectRequest };
      break;
    case 'user.text_input':
      if (typeof request['prompt'] === 'string')
        return { module: 'user.text_input', request: request as unknown as TextInputRequest };
      break;
    case 'user.form':
      if (isForm(request))
        return { module: 'user.form', request: request as unknown as FormRequest };
      break;
    case 'user.confirm':
      if (typeof request['message'] === 'string')
        return { module: 'user.confirm', request: request as unknown as ConfirmRequest };
      break;
  }
  return { module: 'other', request };
}

/** The question in one line: the prompt or message, else the module's name in the workflow. */
export function questionText(interaction: PendingInteraction): string {
  const request = isRecord(interaction.request) ? interaction.request : {};
  for (const field of ['prompt', 'message']) {
    const text = request[field];
    if (typeof text === 'string' && text.trim() !== '') return text.trim();
  }
  return humanize(interaction.module_name);
}

/** The `display` items of a request, those that have the expected shape. */
export function displayOf(request: unknown): DisplayItem[] {
  if (!isRecord(request) || !Array.isArray(request['display'])) return [];
  return request['display'].filter(
    (item: unknown): item is DisplayItem =>
      isRecord(item) && typeof item['label'] === 'string' && typeof item['kind'] === 'string',
  );
}

/** `pick_idea` → "Pick idea": a readable name where only an identifier is known. */
export function humanize(name: string): string {
  const words = name.replace(/[_.-]+/g, ' ').trim();
  return words === '' ? name : words.charAt(0).toUpperCase() + words.slice(1);
}
