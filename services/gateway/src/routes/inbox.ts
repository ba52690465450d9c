import { z } from 'zod';
import {
  inboxAnsweredSchema,
  inboxPageSchema,
  inboxQuerySchema,
  inboxRunStatusSchema,
} from '@stepwise/shared';
import type { Models } from '@stepwise/shared/node';
import { defineRoute, type RouteDefinition } from '../http/route-builder.js';
import { json, raw } from '../http/responses.js';
import { listInbox } from '../runs/inbox.js';
import type { RunNotifications } from '../runs/run-notifications.js';
import { streamUserEvents } from '../runs/user-stream.js';

/** What the inbox routes use of the gateway's dependencies. */
export interface InboxRouteDependencies {
  models: Models;
  notifications: RunNotifications;
  settings: { sseHeartbeatMs: number };
  shutdown: AbortSignal;
}

/** A named schema's JSON Schema, inlined where the document's raw answers describe SSE data. */
function inlineSchema(schema: z.ZodType): Record<string, unknown> {
  const converted = z.toJSONSchema(schema, { io: 'output', target: 'draft-2020-12' }) as {
    $ref?: string;
    $defs?: Record<string, Record<string, unknown>>;
  } & Record<string, unknown>;
  // A named schema converts to a reference into local `$defs`, which would resolve against the
  // whole document there: take the definition itself (these name no other schema).
  const name = converted.$ref?.replace('#/$defs/', '');
  const definition = (name === undefined ? undefined : converted.$defs?.[name]) ?? converted;
  const { $schema: _schema, $defs: _defs, id: _id, ...rest } = definition;
  return rest;
}

/** One message of the user stream, as an SSE parser hands it over. */
function sseMessage(event: string, data: Record<string, unknown>, description: string) {
  return {
    type: 'object',
    description,
    properties: {
      id: {
        type: 'string',
        description: 'The stream position (ms); send it back as Last-Event-ID to resume',
      },
      event: { const: event },
      data: { type: 'string', contentMediaType: 'application/json', contentSchema: data },
    },
    required: ['event', 'data'],
  };
}

const userStreamMessageJsonSchema = {
  oneOf: [
    sseMessage(
      'interaction.requested',
      { $ref: '#/components/schemas/InboxItem' },
      'A question was asked: the item as GET /v1/me/interactions lists it',
    ),
    sseMessage(
      'interaction.answered',
      inlineSchema(inboxAnsweredSchema),
      'A question was answered: it left the inbox',
    ),
    sseMessage(
      'run.status',
      inlineSchema(inboxRunStatusSchema),
      "After a change that can move a run's status: the status now and the interaction it waits on",
    ),
  ],
};

/** The SSE resume header: a position from an earlier `id:` line; anything else is ignored. */
const lastEventIdSchema = z.string().max(1024);

/** The caller's inbox across runs: `GET /v1/me/interactions` and `GET /v1/me/stream` (people.md). */
export function inboxRoutes(deps: InboxRouteDependencies): RouteDefinition[] {
  return [
    defineRoute(
      {
        method: 'get',
        path: '/v1/me/interactions',
        summary: 'Every interaction waiting for you, across your runs (sort, filters and cursor)',
        auth: 'user',
        query: inboxQuerySchema,
        responses: {
          200: json(inboxPageSchema, 'A page of waiting interactions, with their total count'),
        },
      },
      async ({ caller, query }) => ({
        status: 200,
        body: await listInbox(deps.models, caller.user.user_id, query),
      }),
    ),
    defineRoute(
      {
        method: 'get',
        path: '/v1/me/stream',
        summary:
          'Questions asked and answered and status changes of your runs, as Server-Sent Events (resumable with Last-Event-ID)',
        auth: 'user',
        headers: [
          {
            name: 'Last-Event-ID',
            description:
              'The last `id:` received; the stream resumes with what changed after it (without it: with what changed in the last few seconds)',
            schema: lastEventIdSchema,
          },
        ],
        responses: {
          200: raw(
            'text/event-stream',
            userStreamMessageJsonSchema,
            'Server-Sent Events: `event:` is interaction.requested, interaction.answered or run.status, `data:` its JSON; `id:` is the stream position; a comment line (with the position) every SSE_HEARTBEAT_MS',
            ['Cache-Control'],
          ),
        },
      },
      async ({ caller, req, res }) => {
        await streamUserEvents(req, res, caller.user.user_id, {
          models: deps.models,
          notifications: deps.notifications,
          heartbeatMs: deps.settings.sseHeartbeatMs,
          shutdown: deps.shutdown,
        });
        return { status: 200, sent: true };
      },
    ),
  ];
}
