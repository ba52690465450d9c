import { z } from 'zod';
import {
  idSchema,
  jobViewSchema,
  newId,
  pageQuerySchema,
  submitWorkflowQuerySchema,
  templateDetailSchema,
  templateListItemSchema,
  versionDetailSchema,
  versionSummarySchema,
} from '@stepwise/shared';
import type { Queue } from 'bullmq';
import type { Connection } from 'mongoose';
import type { Models } from '@stepwise/shared/node';
import { defineRoute, type RouteDefinition } from '../http/route-builder.js';
import { getJobView } from '../jobs/job-views.js';
import { submitWorkflow, type SubmissionDependencies } from '../workflows/submissions.js';
import { getTemplate, getVersion, listTemplates } from '../workflows/templates.js';
import { readKeywords, readOptionUsage } from '../history/template-history.js';

const zipMediaTypes = ['application/zip', 'application/x-zip-compressed'];
const templateName = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'not a template name');
const stepName = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'not a step or module name');

export interface WorkflowRouteDependencies extends SubmissionDependencies {
  mongo: Connection;
  models: Models;
  /** Queues whose jobs `GET /v1/jobs/{id}` may show. */
  jobQueues: readonly Queue[];
  maxUploadBytes: number;
}

export function workflowRoutes(deps: WorkflowRouteDependencies): RouteDefinition[] {
  return [
    defineRoute(
      {
        method: 'post',
        path: '/v1/workflows',
        summary:
          'Submit a workflow (zip bundle or JSON); 201 new version, 200 existing, 202 pending',
        auth: 'user',
        query: submitWorkflowQuerySchema,
        upload: {
          mediaTypes: [...zipMediaTypes, 'application/json'],
          maxBytes: deps.maxUploadBytes,
        },
        success: { status: 201, body: versionSummarySchema },
      },
      async ({ caller, query, upload, context, res }) => {
        if (!upload) throw new Error('upload route without an upload');
        const outcome = await submitWorkflow(deps, {
          userId: caller.user.user_id,
          bytes: upload.bytes,
          sourceType: upload.mediaType === 'application/json' ? 'json' : 'zip',
          entryPoint: query.entry_point,
          correlationId: newId('correlation'),
          waitMs: query.wait ? query.wait_ms : 0,
        });
        context.logger.info({ outcome: outcome.state }, 'workflow submitted');
        if (outcome.state === 'pending') {
          res.status(202).json({ job_id: outcome.jobId });
          return undefined;
        }
        res.status(outcome.version.created ? 201 : 200).json(outcome.version);
        return undefined;
      },
    ),
    defineRoute(
      {
        method: 'get',
        path: '/v1/jobs/:job_id',
        summary: 'The state of a job you started (e.g. a submission answered 202)',
        auth: 'user',
        params: z.strictObject({ job_id: idSchema('job') }),
        success: { status: 200, body: jobViewSchema },
      },
      ({ caller, params }) => getJobView(deps.jobQueues, caller.user.user_id, params.job_id),
    ),
    defineRoute(
      {
        method: 'get',
        path: '/v1/templates',
        summary: 'Your templates, with their latest version and version count',
        auth: 'user',
        success: { status: 200, body: z.object({ items: z.array(templateListItemSchema) }) },
      },
      ({ caller }) => listTemplates(deps.models, caller.user.user_id),
    ),
    defineRoute(
      {
        method: 'get',
        path: '/v1/templates/:name',
        summary: 'A template with its versions, newest first (paginated)',
        auth: 'user',
        params: z.strictObject({ name: templateName }),
        query: pageQuerySchema,
        success: { status: 200, body: templateDetailSchema },
      },
      ({ caller, params, query }) =>
        getTemplate(deps.models, caller.user.user_id, params.name, query),
    ),
    defineRoute(
      {
        method: 'get',
        path: '/v1/versions/:version_id',
        summary: 'A version with its resolved workflow',
        auth: 'user',
        params: z.strictObject({ version_id: idSchema('version') }),
        success: { status: 200, body: versionDetailSchema },
      },
      ({ caller, params }) =>
        getVersion(deps.mongo, deps.models, caller.user.user_id, params.version_id),
    ),
    defineRoute(
      {
        method: 'get',
        path: '/v1/templates/:name/option-usage',
        summary: "When each tracked option of the template's selects was last chosen",
        auth: 'user',
        params: z.strictObject({ name: templateName }),
        query: z.strictObject({ step_id: stepName.optional(), module_name: stepName.optional() }),
        success: { status: 200, body: z.object({ options: z.record(z.string(), z.string()) }) },
      },
      ({ caller, params, query }) =>
        readOptionUsage(deps.models, caller.user.user_id, params.name, query),
    ),
    defineRoute(
      {
        method: 'get',
        path: '/v1/templates/:name/keywords',
        summary: "The template's keyword history that has not expired, heaviest first",
        auth: 'user',
        params: z.strictObject({ name: templateName }),
        query: z.strictObject({
          step_id: stepName.optional(),
          module_name: stepName.optional(),
          category: z.string().min(1).max(200).optional(),
          limit: z.coerce.number().int().min(1).max(1000).default(100),
        }),
        success: {
          status: 200,
          body: z.object({ items: z.array(z.record(z.string(), z.unknown())) }),
        },
      },
      ({ caller, params, query }) =>
        readKeywords(deps.models, caller.user.user_id, params.name, query),
    ),
  ];
}
