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
import { defineRoute, type RouteDefinition } from '../http/route-builder.js';

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

export function accountRoutes(models: Models): RouteDefinition[] {
  return [
    defineRoute(
      {
        method: 'post',
        path: '/v1/admin/users',
        summary: 'Create a user and its first API key (shown once)',
        auth: 'admin',
        body: createUserBodySchema,
        success: { status: 201, body: createUserResponseSchema },
      },
      async ({ body }) => {
        const { user, key } = await createUser(models, body);
        return { user: userView(user), key_id: key.key_id, api_key: key.api_key };
      },
    ),
    defineRoute(
      {
        method: 'get',
        path: '/v1/me',
        summary: 'The calling user',
        auth: 'user',
        success: { status: 200, body: z.object({ user: userViewSchema }) },
      },
      async ({ caller }) => ({ user: userView(caller.user) }),
    ),
    defineRoute(
      {
        method: 'get',
        path: '/v1/me/keys',
        summary: "The calling user's API keys (secrets are never shown again)",
        auth: 'user',
        success: { status: 200, body: z.object({ items: z.array(accessKeyViewSchema) }) },
      },
      async ({ caller }) => ({ items: (await listKeys(models, caller.user.user_id)).map(keyView) }),
    ),
    defineRoute(
      {
        method: 'post',
        path: '/v1/me/keys',
        summary: 'Issue another API key (shown once)',
        auth: 'user',
        success: { status: 201, body: issuedKeyResponseSchema },
      },
      async ({ caller }) => issueKey(models, caller.user.user_id),
    ),
    defineRoute(
      {
        method: 'delete',
        path: '/v1/me/keys/:key_id',
        summary: 'Revoke one of your keys; it stops working at once',
        auth: 'user',
        params: z.strictObject({ key_id: idSchema('accessKey') }),
        success: { status: 204 },
      },
      async ({ caller, params }) => {
        await revokeKey(models, caller.user.user_id, params.key_id);
        return undefined;
      },
    ),
  ];
}
