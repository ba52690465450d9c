import { z } from 'zod';
import {
  acceptsMediaType,
  builtInModuleDeclarations,
  fileInputRequestSchema,
  interactionAnswerSchemas,
  type ErrorDetail,
  type FileInputRequest,
  type InteractiveModule,
} from '@stepwise/shared';
import type { Models } from '@stepwise/shared/node';
import { ModuleFailure } from '../engine/module-failure.js';
import { responseErrors } from './response-errors.js';

/** What `respond` reads of its request (lenient: a request logged by an older runner still reads). */
const requestSchema = z.object({
  accept: z.array(z.string()),
  max_bytes: z.number().int(),
  min_files: z.number().int(),
  max_files: z.number().int(),
});

const responseSchema = interactionAnswerSchemas['user.file_input'];

const uploadSummarySchema = z.object({
  artifact_id: z.string(),
  name: z.string(),
  content_type: z.string(),
  size: z.number().int(),
  sha256: z.string(),
});

function countRule(min: number, max: number): string {
  if (min === max) return `exactly ${min} file${min === 1 ? '' : 's'}`;
  return `between ${min} and ${max} files`;
}

/**
 * `user.file_input` (media.md): a person uploads files, each with its own request
 * (`POST /v1/runs/{id}/uploads`, where the gateway checks its bytes and size and stores it), then
 * answers with the artifact ids. The answer is checked here against what was stored: every id an
 * upload of this run for this question, not used by an earlier answer, of an accepted type. Ids
 * come first in the outputs so that `outputs_to_state` can take `artifact_ids` whole.
 */
export function createUserFileInput(models: Models): InteractiveModule {
  const declaration = builtInModuleDeclarations['user.file_input'];
  return {
    id: 'user.file_input',
    ...declaration,
    interactive: true,
    outputs: z.object({
      artifact_ids: z.array(z.string()),
      artifacts: z.array(uploadSummarySchema),
    }),
    async request(inputs) {
      // The engine parsed the inputs with this schema already (defaults applied); again for types.
      const parsed = declaration.inputs.parse(inputs);
      // A question no answer could satisfy fails now, not the person later.
      if (parsed.min_files > parsed.max_files) {
        throw new ModuleFailure(
          'INPUT_INVALID',
          `min_files (${parsed.min_files}) is greater than max_files (${parsed.max_files})`,
          false,
        );
      }
      return fileInputRequestSchema.parse({
        prompt: parsed.prompt,
        accept: parsed.accept,
        max_bytes: parsed.max_bytes,
        min_files: parsed.min_files,
        max_files: parsed.max_files,
      } satisfies FileInputRequest);
    },
    async respond(request, response, context) {
      const spec = requestSchema.parse(request);
      const parsed = responseSchema.safeParse(response);
      if (!parsed.success) return { ok: false, errors: responseErrors(parsed.error) };
      const ids = parsed.data.artifact_ids;
      const errors: ErrorDetail[] = [];
      if (ids.length < spec.min_files || ids.length > spec.max_files) {
        errors.push({
          path: 'response.artifact_ids',
          message: `send ${countRule(spec.min_files, spec.max_files)} (got ${ids.length})`,
        });
      }
      if (new Set(ids).size !== ids.length)
        errors.push({ path: 'response.artifact_ids', message: 'artifact ids must not repeat' });
      const stored = await models.artifacts
        .find({ artifact_id: { $in: ids }, workflow_run_id: context.run.workflow_run_id })
        .lean();
      const byId = new Map(stored.map((artifact) => [artifact.artifact_id, artifact]));
      ids.forEach((id, index) => {
        const path = `response.artifact_ids[${index}]`;
        const artifact = byId.get(id);
        // Another run's artifact (another tenant's included) is reported as unknown, like a typo.
        if (!artifact || artifact.kind !== 'upload') {
          errors.push({ path, message: `'${id}' is not a file uploaded to this run` });
        } else if (
          artifact.step_id !== context.run.step_id ||
          artifact.module_name !== context.run.module_name
        ) {
          errors.push({ path, message: `'${id}' was uploaded for another question` });
        } else if (artifact.event_id !== null) {
          errors.push({ path, message: `'${id}' belongs to an earlier answer` });
        } else if (!acceptsMediaType(spec.accept, artifact.content_type)) {
          errors.push({
            path,
            message: `'${id}' is ${artifact.content_type}; this question accepts ${spec.accept.join(', ')}`,
          });
        } else if (artifact.size > spec.max_bytes) {
          errors.push({
            path,
            message: `'${id}' has ${artifact.size} bytes; this question accepts at most ${spec.max_bytes}`,
          });
        }
      });
      if (errors.length > 0) return { ok: false, errors };
      const artifacts = ids.map((id) => {
        const artifact = byId.get(id);
        if (!artifact) throw new Error(`artifact '${id}' vanished`);
        return {
          artifact_id: artifact.artifact_id,
          name: artifact.name,
          content_type: artifact.content_type,
          size: artifact.size,
          sha256: artifact.sha256,
        };
      });
      return { ok: true, outputs: { artifact_ids: ids, artifacts } };
    },
  };
}
