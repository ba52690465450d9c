import { z } from 'zod';
import {
  idSchema,
  impactQuerySchema,
  impactReportSchema,
  jobAcceptedSchema,
  keywordViewSchema,
  workflowDefinitionSchema,
  jobViewSchema,
  newId,
  pageQuerySchema,
  queryInteger,
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
import { json } from '../http/responses.js';
import { getJobView } from '../jobs/job-views.js';
import { submitWorkflow, type SubmissionDependencies } from '../workflows/submissions.js';
import { getTemplate, getVersion, listTemplates } from '../workflows/templates.js';
import { impactReport } from '../workflows/impact.js';
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
          jsonSchema: workflowDefinitionSchema,
        },
        bodyExample: {
          workflow_id: 'caption_check',
          steps: [
            {
              step_id: 'write',
              modules: [
                {
                  module_id: 'user.text_input',
                  name: 'caption',
                  inputs: { prompt: 'Write a caption' },
                  outputs_to_state: { value: 'caption' },
                },
              ],
            },
          ],
        },
        responses: {
          201: json(versionSummarySchema, 'A new version was stored'),
          200: json(versionSummarySchema, 'The same content is already a version of yours'),
          202: json(jobAcceptedSchema, 'Still resolving (wait=false, or wait_ms ran out)'),
        },
        errors: ['INVALID_ZIP', 'WORKFLOW_INVALID', 'CONFLICT'],
      },
      async ({ caller, query, upload, context }) => {
        if (!upload) throw new Error('upload route without an upload');
        const outcome = await submitWorkflow(deps, {
          userId: caller.user.user_id,
          bytes: upload.bytes,
          sourceType: upload.mediaType === 'application/json' ? 'json' : 'zip',
          entryPoint: query.entry_point,
          expectedTemplateName: query.template,
          correlationId: newId('correlation'),
          waitMs: query.wait ? query.wait_ms : 0,
        });
        context.logger.info({ outcome: outcome.state }, 'workflow submitted');
        if (outcome.state === 'pending') return { status: 202, body: { job_id: outcome.jobId } };
        return { status: outcome.version.created ? 201 : 200, body: outcome.version };
      },
    ),
    defineRoute(
      {
        method: 'get',
        path: '/v1/jobs/:job_id',
        summary: 'The state of a job you started (e.g. a submission answered 202)',
        auth: 'user',
        params: z.strictObject({ job_id: idSchema('job') }),
        responses: { 200: json(jobViewSchema, 'The job as it stands') },
        errors: ['NOT_FOUND'],
      },
      async ({ caller, params }) => ({
        status: 200,
        body: await getJobView(deps.jobQueues, caller.user.user_id, params.job_id),
      }),
    ),
    defineRoute(
      {
        method: 'get',
        path: '/v1/templates',
        summary: 'Your templates, with their latest version and version count',
        auth: 'user',
        responses: {
          200: json(z.object({ items: z.array(templateListItemSchema) }), 'Your templates'),
        },
      },
      async ({ caller }) => ({
        status: 200,
        body: await listTemplates(deps.models, caller.user.user_id),
      }),
    ),
    defineRoute(
      {
        method: 'get',
        path: '/v1/templates/:name',
        summary: 'A template with its versions, newest first (paginated)',
        auth: 'user',
        params: z.strictObject({ name: templateName }),
        query: pageQuerySchema,
        responses: { 200: json(templateDetailSchema, 'The template and a page of its versions') },
        errors: ['NOT_FOUND'],
      },
      async ({ caller, params, query }) => ({
        status: 200,
        body: await getTemplate(deps.models, caller.user.user_id, params.name, query),
      }),
    ),
    defineRoute(
      {
        method: 'get',
        path: '/v1/versions/:version_id',
        summary: 'A version with its resolved workflow',
        auth: 'user',
        params: z.strictObject({ version_id: idSchema('version') }),
        responses: { 200: json(versionDetailSchema, 'The version') },
        errors: ['NOT_FOUND'],
      },
      async ({ caller, params }) => ({
        status: 200,
        body: await getVersion(deps.mongo, deps.models, caller.user.user_id, params.version_id),
      }),
    ),
    defineRoute(
      {
        method: 'get',
        path: '/v1/templates/:name/versions/:version_id/impact',
        summary:
          'Your unfinished runs of the template on another version, and what moving each onto this version would change',
        auth: 'user',
        params: z.strictObject({ name: templateName, version_id: idSchema('version') }),
        query: impactQuerySchema,
        responses: {
          200: json(
            impactReportSchema,
            'A page of runs, newest first, each with the changes placed against its position (as GET /v1/runs/{id}/version-changes gives them), whether continue_with_new suffices, the step to restart at, and whether its pending question may change',
          ),
        },
        errors: ['NOT_FOUND'],
      },
      async ({ caller, params, query }) => ({
        status: 200,
        body: await impactReport(deps, caller.user.user_id, params.name, params.version_id, query),
      }),
    ),
    defineRoute(
      {
        method: 'get',
        path: '/v1/templates/:name/option-usage',
        summary: "When each tracked option of the template's selects was last chosen",
        auth: 'user',
        params: z.strictObject({ name: templateName }),
        query: z.strictObject({ step_id: stepName.optional(), module_name: stepName.optional() }),
        responses: {
          200: json(
            z.object({ options: z.record(z.string(), z.string()) }),
            'Option key → when it was last chosen (ISO time)',
          ),
        },
        errors: ['NOT_FOUND'],
      },
      async ({ caller, params, query }) => ({
        status: 200,
        body: await readOptionUsage(deps.models, caller.user.user_id, params.name, query),
      }),
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
          limit: queryInteger(1, 1000).default(100),
        }),
        responses: {
          200: json(z.object({ items: z.array(keywordViewSchema) }), 'Keywords, heaviest first'),
        },
        errors: ['NOT_FOUND'],
      },
      async ({ caller, params, query }) => ({
        status: 200,
        body: await readKeywords(deps.models, caller.user.user_id, params.name, query),
      }),
    ),
  ];
}
