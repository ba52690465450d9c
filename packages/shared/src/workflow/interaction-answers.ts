import { z } from 'zod';
import { idSchema } from '../ids.js';
import { storableObject } from '../schema-docs.js';

/**
 * The answer each built-in interactive module takes, one schema per module type: the runner checks
 * answers with these, and the OpenAPI document offers them (by module id) as the `response` of the
 * interaction route, so a generated client types an answer from the module it answers.
 */

/** Longest text a person may send; also bounds the work of an author's `pattern`. */
export const MAX_ANSWER_TEXT_LENGTH = 100_000;

export const interactionAnswerSchemas = {
  'user.select': z
    .strictObject({ selected_indices: z.array(z.number().int().min(0)) })
    .meta({ id: 'SelectAnswer', description: 'user.select: the indices of the chosen options' }),
  'user.text_input': z
    .strictObject({ value: z.string().max(MAX_ANSWER_TEXT_LENGTH) })
    .meta({ id: 'TextInputAnswer', description: 'user.text_input: the text' }),
  'user.form': z
    .strictObject({ values: storableObject() })
    .meta({ id: 'FormAnswer', description: 'user.form: field name → value' }),
  'user.confirm': z
    .strictObject({ confirmed: z.boolean() })
    .meta({ id: 'ConfirmAnswer', description: 'user.confirm: approved or rejected' }),
  'user.file_input': z.strictObject({ artifact_ids: z.array(idSchema('artifact')).max(100) }).meta({
    id: 'FileInputAnswer',
    description:
      'user.file_input: the ids of the artifacts uploaded for this question (POST /v1/runs/{id}/uploads), in order',
  }),
} as const;

/** A plugin's interactive module defines its own answer: any JSON object. */
export const pluginAnswerSchema = storableObject({
  id: 'PluginAnswer',
  description: "A plugin module's answer (its own shape)",
});

/** Any answer: one of the built-in modules' or a plugin's (which module it fits is checked later). */
export const interactionAnswerSchema = z.union([
  interactionAnswerSchemas['user.select'],
  interactionAnswerSchemas['user.text_input'],
  interactionAnswerSchemas['user.form'],
  interactionAnswerSchemas['user.confirm'],
  interactionAnswerSchemas['user.file_input'],
  pluginAnswerSchema,
]);
