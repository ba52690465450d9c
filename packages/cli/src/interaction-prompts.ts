import { checkbox, confirm, input, number, select } from '@inquirer/prompts';
import type { PendingInteraction } from '@stepwise/shared';

interface SelectRequest {
  prompt: string;
  options: { index: number; value: unknown; last_used: string | null }[];
  multi: boolean;
  min: number;
  max: number;
}
interface TextRequest {
  prompt: string;
  default: string | null;
  pattern: string | null;
  min_length: number | null;
  max_length: number | null;
}
interface FormField {
  name: string;
  label?: string;
  type: 'string' | 'number' | 'boolean' | 'enum';
  required?: boolean;
  options?: string[];
  min?: number;
  max?: number;
  default?: string | number | boolean;
}

function label(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function lastUsed(iso: string | null): string {
  return iso ? ` (last chosen ${iso.slice(0, 10)})` : '';
}

/**
 * Asks a person, in the terminal, what a pending interaction asks, and returns the response to
 * send. Validation stays the server's: a refused answer is shown and asked again by the caller.
 */
export async function askInTerminal(interaction: PendingInteraction): Promise<unknown> {
  switch (interaction.module_id) {
    case 'user.select': {
      const request = interaction.request as SelectRequest;
      const choices = request.options.map((option) => ({
        name: `${label(option.value)}${lastUsed(option.last_used)}`,
        value: option.index,
      }));
      if (request.multi) {
        return {
          selected_indices: await checkbox({
            message: request.prompt,
            choices,
            required: request.min > 0,
          }),
        };
      }
      return { selected_indices: [await select({ message: request.prompt, choices })] };
    }
    case 'user.text_input': {
      const request = interaction.request as TextRequest;
      const value = await input({
        message: request.prompt,
        ...(request.default ? { default: request.default } : {}),
      });
      return { value };
    }
    case 'user.form': {
      const request = interaction.request as { prompt: string | null; fields: FormField[] };
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
            required: field.required !== false,
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
          if (answer !== '' || field.required !== false) values[field.name] = answer;
        }
      }
      return { values };
    }
    case 'user.confirm': {
      const request = interaction.request as { message: string };
      return { confirmed: await confirm({ message: request.message.trim(), default: true }) };
    }
    default: {
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
  }
}
