import { z } from 'zod';
import {
  createUserBodySchema,
  createUserResponseSchema,
  idSchema,
  issuedKeyResponseSchema,
  userViewSchema,
  accessKeyViewSchema,
  type AccessKeyRecord,
  type AccessKeyView,
  type UserRecord,
  type UserView,
} from '@stepwise/shared';
import type { Models } from '@stepwise/shared/node';
import { createUser, issueKey, listKeys, revokeKey } from '../accounts/accounts.js';
import type { AuthEpochs } from '../accounts/key-cache.js';
import { defineRoute, type RouteDefinition } from '../http/route-builder.js';
import { empty, json } from '../http/responses.js';

export function userView(user: UserRecord): UserView {
  return {
    user_id: user.user_id,
    username: user.username,
    email: user.email,
    created_at: user.created_at.toISOString(),
    updated_at: user.updated_at.toISOString(),
  };
}

function keyView(key: AccessKeyRecord): AccessKeyView {
  return {
    key_id: key.key_id,
    prefix: key.prefix,
    created_at: key.created_at.toISOString(),
    last_used_at: key.last_used_at?.toISOString() ?? null,
    revoked_at: key.revoked_at?.toISOString() ?? null,
  };
}

export function accountRoutes(models: Models, epochs: AuthEpochs): RouteDefinition[] {
  return [
    defineRoute(
      {
        method: 'post',
        path: '/v1/admin/users',
        summary: 'Create a user and its first API key (shown once)',
        auth: 'admin',
        body: createUserBodySchema,
        bodyExample: { username: 'alice', email: 'alice@example.com' },
        responses: {
          201: json(createUserResponseSchema, 'The user, and its first API key (shown only now)'),
        },
        errors: ['CONFLICT'],
      },
      async ({ body }) => {
        const { user, key } = await createUser(models, body);
        return {
          status: 201,
          body: { user: userView(user), key_id: key.key_id, api_key: key.api_key },
        };
      },
    ),
    defineRoute(
      {
        method: 'get',
        path: '/v1/me',
        summary: 'The calling user',
        auth: 'user',
        responses: { 200: json(z.object({ user: userViewSchema }), 'The calling user') },
      },
      async ({ caller }) => ({ status: 200, body: { user: userView(caller.user) } }),
    ),
    defineRoute(
      {
        method: 'get',
        path: '/v1/me/keys',
        summary: "The calling user's API keys (secrets are never shown again)",
        auth: 'user',
        responses: {
          200: json(
            z.object({ items: z.array(accessKeyViewSchema) }),
            'Your keys, secrets left out',
          ),
        },
      },
      async ({ caller }) => ({
        status: 200,
        body: { items: (await listKeys(models, caller.user.user_id)).map(keyView) },
      }),
    ),
    defineRoute(
      {
        method: 'post',
        path: '/v1/me/keys',
        summary: 'Issue another API key (shown once)',
        auth: 'user',
        responses: { 201: json(issuedKeyResponseSchema, 'The new key (shown only now)') },
      },
      async ({ caller }) => ({ status: 201, body: await issueKey(models, caller.user.user_id) }),
    ),
    defineRoute(
      {
        method: 'delete',
        path: '/v1/me/keys/:key_id',
        summary: 'Revoke one of your keys; it stops working at once',
        auth: 'user',
        params: z.strictObject({ key_id: idSchema('accessKey') }),
        responses: { 204: empty('Revoked') },
        errors: ['NOT_FOUND'],
      },
      async ({ caller, params }) => {
        await revokeKey(models, epochs, caller.user.user_id, params.key_id);
        return { status: 204 };
      },
    ),
  ];
}
