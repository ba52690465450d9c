import { z } from 'zod';
import { idSchema } from './ids.js';

/** The HTTP side of run export and import (docs/run-export.md). */

export const RUN_ARCHIVE_MEDIA_TYPE = 'application/zip';

export const runImportResultSchema = z
  .object({
    run_id: idSchema('run').describe('The imported run, as it is known here'),
    workflow_template_id: idSchema('template'),
    workflow_template_name: z.string(),
    id_map: z
      .record(z.string(), z.string())
      .describe(
        'Every id the archive held (run, owner, template, versions, branches, events, commands, questions, artifacts) → its id here; equal where the id was free and kept',
      ),
  })
  .describe('A run imported from an archive');
export type RunImportResult = z.infer<typeof runImportResultSchema>;
