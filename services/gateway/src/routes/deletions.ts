import { z } from 'zod';
import {
  deletionAcceptedSchema,
  deletionListSchema,
  deletionViewSchema,
  deletionsQuerySchema,
  idSchema,
  retentionPolicySchema,
  retentionPolicyViewSchema,
  retentionReportListSchema,
  retentionReportsQuerySchema,
  templateDeletionQuerySchema,
  type RetentionPolicy,
} from '@stepwise/shared';
import type { JobQueue, Models } from '@stepwise/shared/node';
import { defineRoute, type RouteDefinition } from '../http/route-builder.js';
import { json } from '../http/responses.js';
import {
  listDeletions,
  readDeletion,
  requestRunDeletion,
  requestTemplateDeletion,
  requestUserDeletion,
  type UserShutOut,
} from '../deletions/deletion-requests.js';
import {
  listRetentionReports,
  readRetentionPolicy,
  writeRetentionPolicy,
} from '../deletions/retention-policies.js';

export interface DeletionRouteDependencies extends UserShutOut {
  models: Models;
  deletionQueue: JobQueue<'deletion'>;
  /** The deployment's retention policy (RETENTION_*). */
  retentionDefaults: RetentionPolicy;
}

const templateName = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'not a template name');

const accepted = (what: string) =>
  json(
    deletionAcceptedSchema,
    `${what}; follow the deletion with GET /v1/deletions/{deletion_id}. Asked again, the same deletion (queued again if it failed)`,
  );

/** Deleting runs, templates and users, and the retention policy (docs/deletion-and-retention.md). */
export function deletionRoutes(deps: DeletionRouteDependencies): RouteDefinition[] {
  const { models } = deps;
  return [
    defineRoute(
      {
        method: 'delete',
        path: '/v1/runs/:id',
        summary:
          'Delete the run and everything of it (events, branches, commands, artifacts, usage, timers, notifications); it is gone (404) at once, and deleted by a queued job',
        auth: 'user',
        params: z.strictObject({ id: idSchema('run') }),
        responses: { 202: accepted('The run is hidden and its deletion queued') },
        errors: ['NOT_FOUND'],
      },
      async ({ caller, params }) => ({
        status: 202,
        body: { deletion: await requestRunDeletion(deps, caller.user.user_id, params.id) },
      }),
    ),
    defineRoute(
      {
        method: 'delete',
        path: '/v1/templates/:name',
        summary:
          "Delete the template, its versions and every run of it; ?confirm= must repeat the template's name",
        auth: 'user',
        params: z.strictObject({ name: templateName }),
        query: templateDeletionQuerySchema,
        responses: { 202: accepted('The deletion is queued') },
        errors: ['NOT_FOUND'],
      },
      async ({ caller, params, query }) => ({
        status: 202,
        body: {
          deletion: await requestTemplateDeletion(
            deps,
            caller.user.user_id,
            params.name,
            query.confirm,
          ),
        },
      }),
    ),
    defineRoute(
      {
        method: 'delete',
        path: '/v1/admin/users/:user_id',
        summary:
          'Delete a user and everything they own; their keys and sessions stop working before this answers',
        auth: 'admin',
        params: z.strictObject({ user_id: idSchema('user') }),
        responses: {
          202: json(
            deletionAcceptedSchema,
            'The user is shut out and the deletion queued; follow it with GET /v1/admin/deletions/{deletion_id}',
          ),
        },
        errors: ['NOT_FOUND'],
      },
      async ({ params }) => ({
        status: 202,
        body: { deletion: await requestUserDeletion(deps, params.user_id) },
      }),
    ),
    defineRoute(
      {
        method: 'get',
        path: '/v1/admin/deletions/:deletion_id',
        summary: 'A user deletion: its status and what it has deleted so far',
        auth: 'admin',
        params: z.strictObject({ deletion_id: idSchema('deletion') }),
        responses: { 200: json(deletionViewSchema, 'The deletion') },
        errors: ['NOT_FOUND'],
      },
      async ({ params }) => ({
        status: 200,
        body: await readDeletion(models, null, params.deletion_id),
      }),
    ),
    defineRoute(
      {
        method: 'get',
        path: '/v1/deletions',
        summary: 'Your deletions of runs and templates, newest first',
        auth: 'user',
        query: deletionsQuerySchema,
        responses: { 200: json(deletionListSchema, 'A page of your deletions') },
      },
      async ({ caller, query }) => ({
        status: 200,
        body: await listDeletions(models, caller.user.user_id, query),
      }),
    ),
    defineRoute(
      {
        method: 'get',
        path: '/v1/deletions/:deletion_id',
        summary: 'One of your deletions: its status and what it has deleted so far',
        auth: 'user',
        params: z.strictObject({ deletion_id: idSchema('deletion') }),
        responses: { 200: json(deletionViewSchema, 'The deletion') },
        errors: ['NOT_FOUND'],
      },
      async ({ caller, params }) => ({
        status: 200,
        body: await readDeletion(models, caller.user.user_id, params.deletion_id),
      }),
    ),
    defineRoute(
      {
        method: 'get',
        path: '/v1/me/retention',
        summary:
          "Your retention policy: your own once set, the deployment's until then (null keeps things)",
        auth: 'user',
        responses: { 200: json(retentionPolicyViewSchema, 'The policy that applies to you') },
      },
      async ({ caller }) => ({
        status: 200,
        body: await readRetentionPolicy(models, caller.user.user_id, deps.retentionDefaults),
      }),
    ),
    defineRoute(
      {
        method: 'put',
        path: '/v1/me/retention',
        summary:
          'Set your retention policy: finished runs and their artifacts deleted after so many days (null keeps them)',
        auth: 'user',
        body: retentionPolicySchema,
        bodyExample: {
          delete_finished_runs_after_days: 90,
          export_before_delete: true,
          delete_artifacts_after_days: 30,
        },
        responses: { 200: json(retentionPolicyViewSchema, 'Your policy as stored') },
      },
      async ({ caller, body }) => ({
        status: 200,
        body: await writeRetentionPolicy(models, caller.user.user_id, body),
      }),
    ),
    defineRoute(
      {
        method: 'get',
        path: '/v1/me/retention/reports',
        summary:
          'What the retention job did for you, newest first: runs deleted, exported (and where), skipped and why, artifacts deleted',
        auth: 'user',
        query: retentionReportsQuerySchema,
        responses: { 200: json(retentionReportListSchema, 'A page of reports') },
      },
      async ({ caller, query }) => ({
        status: 200,
        body: await listRetentionReports(models, caller.user.user_id, query),
      }),
    ),
  ];
}
