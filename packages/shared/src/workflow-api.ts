import { z } from 'zod';
import { queryInteger } from './query-params.js';
import { BadRequestError, errorEnvelopeSchema } from './errors.js';
import { sourceTypeSchema, type SourceType } from './records.js';

/** Request and response bodies of the "Workflows, templates, versions" routes (api.md). */

const booleanFlag = z.enum(['true', 'false']).transform((flag) => flag === 'true');

/** How long a route may wait for a worker before answering 202 (api.md: default 5 s, at most 30 s). */
export const waitMsSchema = queryInteger(0, 30_000);

/**
 * `entry_point`: the bundle path of a zip submission's entry file. Both upload routes
 * (`POST /v1/workflows`, `POST /v1/runs/{id}/resume`) and the resolve job take it through this one
 * schema and {@link assertEntryPointApplies}, so a bad value gets the same answer from either.
 */
export const entryPointSchema = z
  .string()
  .min(1)
  .max(512)
  // `\u0000` rather than `\0`: the pattern is published in the OpenAPI document, and other
  // regex dialects (Python's, a fuzzer's) read `\u0000` the same way but not `\0` in a class.
  // eslint-disable-next-line no-control-regex -- NUL is exactly what it refuses
  .regex(/^[^\\\u0000]+$/, 'must be a path inside the bundle');

/**
 * `entry_point` names a file inside a zip: with a JSON workflow, or with no workflow at all (a
 * bare resume), it cannot mean anything, and is refused rather than ignored.
 */
export function assertEntryPointApplies(
  upload: SourceType | null,
  entryPoint: string | undefined,
): void {
  if (entryPoint === undefined || upload === 'zip') return;
  throw new BadRequestError('entry_point applies to zip submissions only', [
    {
      path: 'query.entry_point',
      message:
        upload === 'json' ? 'not allowed with application/json' : 'not allowed without a zip',
    },
  ]);
}

export const submitWorkflowQuerySchema = z.strictObject({
  entry_point: entryPointSchema.optional(),
  template: z
    .string()
    .regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'not a template name')
    .optional()
    .describe(
      'Store the workflow only if it is a version of this template (409 CONFLICT otherwise, nothing stored): for a client that uploads a new version of a known template',
    ),
  wait: booleanFlag.default(true),
  wait_ms: waitMsSchema.default(10_000),
});

export const versionSummarySchema = z.object({
  workflow_template_id: z.string(),
  workflow_template_name: z.string(),
  workflow_version_id: z.string(),
  content_hash: z.string(),
  source_type: sourceTypeSchema,
  created: z.boolean(),
});
export type VersionSummary = z.infer<typeof versionSummarySchema>;

export const resolveJobResultSchema = z.discriminatedUnion('ok', [
  z.object({ ok: z.literal(true), version: versionSummarySchema }),
  z.object({ ok: z.literal(false), error: errorEnvelopeSchema.shape.error }),
]);
export type ResolveJobResult = z.infer<typeof resolveJobResultSchema>;

export const jobStateSchema = z.enum(['waiting', 'active', 'delayed', 'completed', 'failed']);

export const jobViewSchema = z.object({
  job_id: z.string(),
  state: jobStateSchema,
  result: z.unknown().optional(),
  error: errorEnvelopeSchema.shape.error.optional(),
});

export const templateListItemSchema = z.object({
  workflow_template_id: z.string(),
  workflow_template_name: z.string(),
  display_name: z.string().nullable(),
  latest_version_id: z.string().nullable(),
  version_count: z.number().int(),
  created_at: z.iso.datetime(),
  updated_at: z.iso.datetime(),
});

export const versionListItemSchema = z.object({
  workflow_version_id: z.string(),
  content_hash: z.string(),
  raw_sha256: z.string(),
  source_type: sourceTypeSchema,
  size: z.number().int(),
  created_at: z.iso.datetime(),
});

export const templateDetailSchema = templateListItemSchema.extend({
  versions: z.array(versionListItemSchema),
  next_cursor: z.string().nullable(),
});

export const versionDetailSchema = versionListItemSchema.extend({
  workflow_template_id: z.string(),
  workflow_template_name: z.string(),
  resolved_workflow: z.record(z.string(), z.unknown()),
});

export const pageQuerySchema = z.strictObject({
  limit: queryInteger(1, 100).default(20),
  cursor: z.string().min(1).max(200).optional(),
});
