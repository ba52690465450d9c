import { checkbox, confirm, input, number, select } from '@inquirer/prompts';
import {
  interactionRequestSchemas,
  pluginRequestSchema,
  type FormRequest,
  type PendingInteraction,
} from '@stepwise/shared';
import {
  optionLabel,
  printDisplay,
  printOptionDetails,
  type UrlOf,
} from './interaction-context.js';

function lastUsed(iso: string | null): string {
  return iso ? ` (last chosen ${iso.slice(0, 10)})` : '';
}

/**
 * Asks a person, in the terminal, what a pending interaction asks, and returns the response to
 * send. Validation stays the server's: a refused answer is shown and asked again by the caller.
 */
export async function askInTerminal(
  interaction: PendingInteraction,
  urlOf: UrlOf,
): Promise<unknown> {
  // The context goes first, whatever the module: a plugin's request may carry it too.
  printDisplay(pluginRequestSchema.safeParse(interaction.request).data?.display, urlOf);
  return ask(interaction, urlOf);
}

/**
 * A built-in module's request is read with its documented schema; one that does not match (a run
 * asked by an older server, say) is shown as JSON and answered as JSON, like a plugin's.
 */
function parsedRequest<T>(
  schema: { safeParse(value: unknown): { success: true; data: T } | { success: false } },
  moduleId: string,
  interaction: PendingInteraction,
): T | undefined {
  if (interaction.module_id !== moduleId) return undefined;
  const parsed = schema.safeParse(interaction.request);
  return parsed.success ? parsed.data : undefined;
}

async function ask(interaction: PendingInteraction, urlOf: UrlOf): Promise<unknown> {
  const selectRequest = parsedRequest(
    interactionRequestSchemas['user.select'],
    'user.select',
    interaction,
  );
  if (selectRequest) {
    printOptionDetails(selectRequest.options, urlOf);
    const choices = selectRequest.options.map((option) => ({
      name: `${optionLabel(option)}${lastUsed(option.last_used)}`,
      value: option.index,
    }));
    if (selectRequest.multi) {
      return {
        selected_indices: await checkbox({
          message: selectRequest.prompt,
          choices,
          required: selectRequest.min > 0,
        }),
      };
    }
    return { selected_indices: [await select({ message: selectRequest.prompt, choices })] };
  }
  const textRequest = parsedRequest(
    interactionRequestSchemas['user.text_input'],
    'user.text_input',
    interaction,
  );
  if (textRequest) {
    const value = await input({
      message: textRequest.prompt,
      ...(textRequest.default ? { default: textRequest.default } : {}),
    });
    return { value };
  }
  const formRequest = parsedRequest(
    interactionRequestSchemas['user.form'],
    'user.form',
    interaction,
  );
  if (formRequest) return { values: await askForm(formRequest) };
  const confirmRequest = parsedRequest(
    interactionRequestSchemas['user.confirm'],
    'user.confirm',
    interaction,
  );
  if (confirmRequest) {
    return { confirmed: await confirm({ message: confirmRequest.message.trim(), default: true }) };
  }
  // A plugin's interaction: show the request and take the response as JSON.
  process.stdout.write(
    `${interaction.module_id} asks:\n${JSON.stringify(interaction.request, null, 2)}\n`,
  );
  const text = await input({
    message: 'Response (JSON):',
    validate: (value) => {
      try {
        JSON.parse(value);
        return true;
      } catch {
        return 'not JSON';
      }
    },
  });
  return JSON.parse(text) as unknown;
}

async function askForm(request: FormRequest): Promise<Record<string, unknown>> {
  if (request.prompt) process.stdout.write(`${request.prompt}\n`);
  const values: Record<string, unknown> = {};
  for (const field of request.fields) {
    const message = field.label ?? field.name;
    if (field.type === 'boolean')
      values[field.name] = await confirm({
        message,
        default: field.default === undefined ? true : field.default === true,
      });
    else if (field.type === 'enum')
      values[field.name] = await select({
        message,
        choices: (field.options ?? []).map((option) => ({ name: option, value: option })),
        ...(typeof field.default === 'string' ? { default: field.default } : {}),
      });
    else if (field.type === 'number') {
      const answer = await number({
        message,
        required: field.required,
        ...(typeof field.default === 'number' ? { default: field.default } : {}),
        ...(field.min === undefined ? {} : { min: field.min }),
        ...(field.max === undefined ? {} : { max: field.max }),
      });
      if (answer !== undefined) values[field.name] = answer;
    } else {
      const answer = await input({
        message,
        ...(typeof field.default === 'string' ? { default: field.default } : {}),
      });
      if (answer !== '' || field.required) values[field.name] = answer;
    }
  }
  return values;
}
