import type { Connection } from 'mongoose';
import { z } from 'zod';
import {
  NotFoundError,
  RUN_ARCHIVE_MEDIA_TYPE,
  idSchema,
  runIdParamsSchema,
  runImportResultSchema,
} from '@stepwise/shared';
import { exportRun, importRun, type Models } from '@stepwise/shared/node';
import { streamTo } from '../artifacts/http-bytes.js';
import { defineRoute, type RouteDefinition } from '../http/route-builder.js';
import { json, raw } from '../http/responses.js';

/** Run export and import (docs/run-export.md): one zip per run. */

export interface RunArchiveRouteDependencies {
  mongo: Connection;
  models: Models;
  /** MAX_RUN_IMPORT_BYTES. */
  maxImportBytes: number;
}

/** MAX_RUN_IMPORT_BYTES' default, for a gateway started without the setting. */
export const DEFAULT_MAX_RUN_IMPORT_BYTES = 512 * 1024 * 1024;

const zipMediaTypes = [RUN_ARCHIVE_MEDIA_TYPE, 'application/x-zip-compressed'];
const binary = { type: 'string', format: 'binary' };
const importedDescription =
  'The run was imported: its id here, and where each id of the archive went';

export function runArchiveRoutes(deps: RunArchiveRouteDependencies): RouteDefinition[] {
  const upload = { mediaTypes: zipMediaTypes, maxBytes: deps.maxImportBytes };
  return [
    defineRoute(
      {
        method: 'get',
        path: '/v1/runs/:id/export',
        summary:
          'The run as one zip archive: its document, workflow versions, branches, events, commands, usage and artifacts, with a manifest of sha256s',
        auth: 'user',
        params: runIdParamsSchema,
        responses: {
          200: raw(RUN_ARCHIVE_MEDIA_TYPE, binary, 'The archive (streamed)', [
            'Content-Disposition',
          ]),
        },
        errors: ['NOT_FOUND'],
      },
      async ({ caller, params, res }) => {
        const exported = await exportRun(deps, {
          runId: params.id,
          userId: caller.user.user_id,
        });
        res.status(200);
        res.setHeader('Content-Type', RUN_ARCHIVE_MEDIA_TYPE);
        res.setHeader('Content-Disposition', `attachment; filename="${exported.fileName}"`);
        await streamTo(exported.stream, res);
        return { status: 200, sent: true };
      },
    ),
    defineRoute(
      {
        method: 'post',
        path: '/v1/runs/import',
        summary:
          'Import a run archive (from GET /v1/runs/{id}/export, here or on another server) as a run of yours; ids are kept where free, renamed otherwise',
        auth: 'user',
        upload,
        responses: { 201: json(runImportResultSchema, importedDescription) },
        errors: ['RUN_ARCHIVE_INVALID', 'CONFLICT'],
      },
      async ({ caller, upload: body }) => {
        if (!body) throw new Error('upload route without an upload');
        const imported = await importRun(deps, {
          bytes: body.bytes,
          targetUserId: caller.user.user_id,
        });
        return { status: 201, body: imported };
      },
    ),
    defineRoute(
      {
        method: 'post',
        path: '/v1/admin/users/:user_id/runs/import',
        summary:
          "Import a run archive as a run of the given user's (the admin's consent: another user's run, or a run from another server)",
        auth: 'admin',
        params: z.strictObject({ user_id: idSchema('user') }),
        upload,
        responses: { 201: json(runImportResultSchema, importedDescription) },
        errors: ['NOT_FOUND', 'RUN_ARCHIVE_INVALID', 'CONFLICT'],
      },
      async ({ params, upload: body }) => {
        if (!body) throw new Error('upload route without an upload');
        if (!(await deps.models.users.exists({ user_id: params.user_id })))
          throw new NotFoundError('user', params.user_id);
        const imported = await importRun(deps, {
          bytes: body.bytes,
          targetUserId: params.user_id,
        });
        return { status: 201, body: imported };
      },
    ),
  ];
}
