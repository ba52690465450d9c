import { z } from 'zod';
import { artifactRecordSchema, keywordSourceSchema } from './records.js';

/** Answer bodies of the template-history and artifact routes (api.md). */

export const keywordViewSchema = z.object({
  keyword: z.string(),
  total_weight: z.number(),
  last_used: z.iso.datetime(),
  expires: z.iso.datetime(),
  source: keywordSourceSchema,
  category: z.string().nullable(),
  step_id: z.string(),
  module_name: z.string(),
});
export type KeywordView = z.infer<typeof keywordViewSchema>;

export const artifactViewSchema = z
  .object({
    artifact_id: z.string(),
    workflow_run_id: z.string(),
    branch_id: z.string(),
    event_id: z.string().nullable(),
    step_id: z.string(),
    module_name: z.string(),
    kind: artifactRecordSchema.shape.kind,
    name: z.string(),
    content_type: z.string(),
    size: z.number().int(),
    sha256: z.string(),
    created_at: z.iso.datetime(),
  })
  .meta({ id: 'Artifact' });
export type ArtifactView = z.infer<typeof artifactViewSchema>;

/** One artifact's metadata (`GET /v1/artifacts/{artifact_id}`), with where its bytes are. */
export const artifactDetailSchema = artifactViewSchema
  .extend({
    /** Its bytes (range requests honoured). */
    content_url: z.string(),
    /** Its WebP preview (512 px on the long side), or null when it is not an image we can read. */
    preview_url: z.string().nullable(),
  })
  .meta({ id: 'ArtifactDetail' });
export type ArtifactDetail = z.infer<typeof artifactDetailSchema>;
