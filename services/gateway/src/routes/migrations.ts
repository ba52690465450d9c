import { z } from 'zod';
import {
  createMigrationBodySchema,
  idPattern,
  idSchema,
  migrationDryRunSchema,
  migrationQuerySchema,
  migrationViewSchema,
  newId,
} from '@stepwise/shared';
import { defineRoute, type RouteDefinition } from '../http/route-builder.js';
import { json } from '../http/responses.js';
import { actorOf } from './run-changes.js';
import {
  createMigration,
  readMigration,
  type MigrationDependencies,
} from '../workflows/migrations.js';

const templateName = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'not a template name');

/** Batch migrations of a template's runs onto one of its versions (versions.md). */
export function migrationRoutes(deps: MigrationDependencies): RouteDefinition[] {
  return [
    defineRoute(
      {
        method: 'post',
        path: '/v1/templates/:name/migrations',
        summary:
          'Move many unfinished runs of the template onto one of its versions, by a policy; dry_run says what would happen and writes nothing',
        auth: 'user',
        params: z.strictObject({ name: templateName }),
        body: createMigrationBodySchema,
        bodyExample: {
          to_version_id: 'ver_0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b',
          filter: { status: 'awaiting_input' },
          policy: 'restart_at_earliest_change',
          dry_run: true,
        },
        responses: {
          200: json(
            migrationDryRunSchema,
            'dry_run: what the migration would do to each matched run (nothing is stored)',
          ),
          202: json(
            migrationViewSchema,
            'The migration is stored with the runs it takes and queued; follow it with GET /v1/templates/{name}/migrations/{migration_id}',
          ),
        },
        errors: ['NOT_FOUND', 'CONFLICT'],
      },
      async ({ caller, params, body, context }) => {
        const created = await createMigration(deps, {
          userId: caller.user.user_id,
          templateName: params.name,
          actor: actorOf(caller),
          body,
          // A client's X-Correlation-Id may be any short token; the migration keeps one of ours.
          correlationId:
            context.correlationId && idPattern('correlation').test(context.correlationId)
              ? context.correlationId
              : newId('correlation'),
        });
        return created.kind === 'dry_run'
          ? { status: 200, body: created.body }
          : { status: 202, body: created.body };
      },
    ),
    defineRoute(
      {
        method: 'get',
        path: '/v1/templates/:name/migrations/:migration_id',
        summary:
          "A migration's progress, its counts by outcome, and a page of its per-run outcomes",
        auth: 'user',
        params: z.strictObject({ name: templateName, migration_id: idSchema('migration') }),
        query: migrationQuerySchema,
        responses: {
          200: json(
            migrationViewSchema,
            'The migration; outcomes in the order it takes the runs, null where it has not reached the run yet',
          ),
        },
        errors: ['NOT_FOUND'],
      },
      async ({ caller, params, query }) => ({
        status: 200,
        body: await readMigration(
          deps,
          caller.user.user_id,
          params.name,
          params.migration_id,
          query,
        ),
      }),
    ),
  ];
}
