import type { Connection } from 'mongoose';
import { z } from 'zod';
import {
  artifactDetailSchema,
  artifactViewSchema,
  idSchema,
  runIdParamsSchema,
} from '@stepwise/shared';
import type { Models } from '@stepwise/shared/node';
import { defineRoute, type RouteDefinition } from '../http/route-builder.js';
import { empty, json, raw } from '../http/responses.js';
import {
  artifactDetail,
  sendArtifactContent,
  sendArtifactPreview,
} from '../artifacts/artifacts.js';
import { receiveUpload } from '../artifacts/uploads.js';

/** The media routes (docs/media.md): uploads for `user.file_input`, bytes by range, previews. */

export interface MediaRouteDependencies {
  mongo: Connection;
  models: Models;
  /** MAX_FILE_UPLOAD_BYTES. */
  maxFileUploadBytes: number;
}

const artifactParamsSchema = z.strictObject({ artifact_id: idSchema('artifact') });

/** A file name as people give them: no path, no control characters. */
const fileNameSchema = z
  .string()
  .min(1)
  .max(255)
  // A pattern rather than a check in code, so the document says it and clients can keep to it.
  // eslint-disable-next-line no-control-regex -- control characters are what it refuses
  .regex(/^[^/\\\u0000-\u001f\u007f]+$/, 'a file name without slashes or control characters');

const uploadQuerySchema = z.strictObject({
  name: fileNameSchema
    .optional()
    .describe(
      "The file's name, kept with the artifact (default: `upload.<extension of its type>`)",
    ),
  interaction_id: idSchema('interaction')
    .optional()
    .describe('The question the file is for; refused (409) unless it is still the pending one'),
});

const binary = { type: 'string', format: 'binary' };

const ifNoneMatchHeader = {
  name: 'If-None-Match',
  description: 'ETags the client holds; a match answers 304 without the bytes',
  schema: z.string().max(4096),
};

export function mediaRoutes(deps: MediaRouteDependencies): RouteDefinition[] {
  return [
    defineRoute(
      {
        method: 'post',
        path: '/v1/runs/:id/uploads',
        summary:
          "Upload one file for the run's pending user.file_input question: the file's bytes are the body (any Content-Type; the type is read from the bytes)",
        auth: 'user',
        params: runIdParamsSchema,
        query: uploadQuerySchema,
        upload: {
          mediaTypes: ['application/octet-stream'],
          maxBytes: deps.maxFileUploadBytes,
          stream: true,
        },
        responses: {
          201: json(
            artifactViewSchema,
            'The stored file: an `upload` artifact, not linked to an event until an answer names it',
          ),
        },
        errors: ['NOT_FOUND', 'INTERACTION_NOT_PENDING'],
      },
      async ({ caller, params, query, req, res }) => {
        try {
          const artifact = await receiveUpload(deps, {
            userId: caller.user.user_id,
            runId: params.id,
            name: query.name,
            interactionId: query.interaction_id,
            req,
          });
          return { status: 201, body: artifact };
        } catch (error) {
          // Refused before its end: rather than read (and drop) the rest of a possibly huge body
          // to keep the connection, close it once the refusal is sent.
          if (!req.complete) res.setHeader('Connection', 'close');
          throw error;
        }
      },
    ),
    defineRoute(
      {
        method: 'get',
        path: '/v1/artifacts/:artifact_id',
        summary: "An artifact's metadata, with the paths of its bytes and of its preview",
        auth: 'user',
        params: artifactParamsSchema,
        responses: { 200: json(artifactDetailSchema, 'The artifact') },
        errors: ['NOT_FOUND'],
      },
      async ({ caller, params }) => ({
        status: 200,
        body: await artifactDetail(deps.models, caller.user.user_id, params.artifact_id),
      }),
    ),
    defineRoute(
      {
        method: 'get',
        path: '/v1/artifacts/:artifact_id/content',
        summary:
          "An artifact's bytes (streamed; ETag is its sha256; honours If-None-Match, and a single Range)",
        auth: 'user',
        params: artifactParamsSchema,
        headers: [
          ifNoneMatchHeader,
          {
            name: 'Range',
            description:
              'One byte range (`bytes=0-99`, `bytes=100-`, `bytes=-10`) answers 206 with those bytes; several ranges, or a header not understood, the whole (200)',
            schema: z.string().max(4096),
          },
          {
            name: 'If-Range',
            description: 'The ETag the client’s partial copy has; another answers the whole (200)',
            schema: z.string().max(4096),
          },
        ],
        responses: {
          200: raw('*/*', binary, 'The bytes, with the artifact’s content type', [
            'ETag',
            'Cache-Control',
            'Content-Length',
            'Content-Disposition',
            'Accept-Ranges',
          ]),
          206: raw('*/*', binary, 'The bytes of the one range asked for', [
            'ETag',
            'Cache-Control',
            'Content-Length',
            'Content-Disposition',
            'Accept-Ranges',
            'Content-Range',
          ]),
          304: empty('The client’s copy is current (If-None-Match matched)', [
            'ETag',
            'Cache-Control',
            'Accept-Ranges',
          ]),
        },
        errors: ['NOT_FOUND', 'RANGE_NOT_SATISFIABLE'],
      },
      async ({ caller, params, req, res }) => {
        const status = await sendArtifactContent(
          deps.mongo,
          deps.models,
          caller.user.user_id,
          params.artifact_id,
          req,
          res,
        );
        return { status, sent: true };
      },
    ),
    defineRoute(
      {
        method: 'get',
        path: '/v1/artifacts/:artifact_id/preview',
        summary:
          "An image artifact's preview: WebP, 512 px on the long side at most (never enlarged); 404 for anything but an image",
        auth: 'user',
        params: artifactParamsSchema,
        headers: [ifNoneMatchHeader],
        responses: {
          200: raw('image/webp', binary, 'The preview (made on the first request, then kept)', [
            'ETag',
            'Cache-Control',
            'Content-Length',
          ]),
          304: empty('The client’s copy is current (If-None-Match matched)', [
            'ETag',
            'Cache-Control',
          ]),
        },
        errors: ['NOT_FOUND'],
      },
      async ({ caller, params, req, res }) => {
        const status = await sendArtifactPreview(
          deps.mongo,
          deps.models,
          caller.user.user_id,
          params.artifact_id,
          req,
          res,
        );
        return { status, sent: true };
      },
    ),
  ];
}
