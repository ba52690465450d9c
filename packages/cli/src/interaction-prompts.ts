import { stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { resolve } from 'node:path';
import { checkbox, confirm, input, number, select } from '@inquirer/prompts';
import {
  interactionRequestSchemas,
  pluginRequestSchema,
  type ArtifactView,
  type FileInputRequest,
  type FormRequest,
  type PendingInteraction,
} from '@stepwise/shared';
import { CliError } from './api-client.js';
import { formatSize } from './format.js';
import {
  optionLabel,
  printDisplay,
  printOptionDetails,
  type UrlOf,
} from './interaction-context.js';

function lastUsed(iso: string | null): string {
  return iso ? ` (last chosen ${iso.slice(0, 10)})` : '';
}

/** Uploads one file for the run's pending file question (`POST /v1/runs/{id}/uploads`). */
export type Uploader = (path: string) => Promise<ArtifactView>;

/**
 * Asks a person, in the terminal, what a pending interaction asks, and returns the response to
 * send. Validation stays the server's: a refused answer is shown and asked again by the caller.
 */
export async function askInTerminal(
  interaction: PendingInteraction,
  urlOf: UrlOf,
  upload?: Uploader,
): Promise<unknown> {
  // The context goes first, whatever the module: a plugin's request may carry it too.
  printDisplay(pluginRequestSchema.safeParse(interaction.request).data?.display, urlOf);
  return ask(interaction, urlOf, upload);
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

async function ask(
  interaction: PendingInteraction,
  urlOf: UrlOf,
  upload: Uploader | undefined,
): Promise<unknown> {
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
  const fileRequest = parsedRequest(
    interactionRequestSchemas['user.file_input'],
    'user.file_input',
    interaction,
  );
  if (fileRequest && upload) return { artifact_ids: await askFiles(fileRequest, upload) };
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

/** `~/photo.png` → the home folder's photo.png; a relative path is the current folder's. */
function expandPath(path: string): string {
  const trimmed = path.trim();
  return resolve(
    trimmed === '~' || trimmed.startsWith('~/') ? homedir() + trimmed.slice(1) : trimmed,
  );
}

/**
 * user.file_input: asks for file paths one at a time, uploads each as soon as it is given, and
 * answers the stored artifacts' ids. The size is checked here; the type (by the bytes) by the
 * server, whose refusal is shown before asking again.
 */
async function askFiles(request: FileInputRequest, upload: Uploader): Promise<string[]> {
  const { min_files: min, max_files: max, max_bytes: maxBytes } = request;
  process.stdout.write(
    `${request.prompt}\n  accepted: ${request.accept.join(', ')}; ` +
      `${min === max ? `${max}` : `${min} to ${max}`} file${max === 1 ? '' : 's'}, ` +
      `at most ${formatSize(maxBytes)} each\n`,
  );
  const ids: string[] = [];
  while (ids.length < max) {
    const done = ids.length >= min;
    const path = await input({
      message:
        max === 1
          ? 'File path:'
          : `File ${ids.length + 1} of ${max} (path${done ? ', or Enter to finish' : ''}):`,
      validate: async (value) => {
        if (value.trim() === '') return done ? true : 'a path, please';
        try {
          const info = await stat(expandPath(value));
          if (!info.isFile()) return 'not a file';
          if (info.size > maxBytes) {
            const [size, limit] = [formatSize(info.size), formatSize(maxBytes)];
            return size === limit
              ? `it is ${info.size} bytes; at most ${maxBytes} bytes are accepted`
              : `it is ${size}; at most ${limit} is accepted`;
          }
          return true;
        } catch {
          return 'no such file';
        }
      },
    });
    if (path.trim() === '') break;
    try {
      const artifact = await upload(expandPath(path));
      ids.push(artifact.artifact_id);
      process.stdout.write(
        `  uploaded ${artifact.name}: ${artifact.artifact_id} (${artifact.content_type}, ${formatSize(artifact.size)})\n`,
      );
    } catch (error) {
      // The file was refused (too large, not an accepted type): another may do. Anything else
      // (the run no longer waits for files, the key is gone) ends the prompt.
      if (!(error instanceof CliError) || ![400, 413, 415, 422].includes(error.status ?? 0))
        throw error;
      process.stdout.write(`  not accepted: ${error.message}\n`);
    }
  }
  return ids;
}
