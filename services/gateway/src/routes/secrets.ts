import {
  MAX_SECRET_VALUE_BYTES,
  llmPricesBodySchema,
  llmPricesViewSchema,
  putSecretBodySchema,
  secretListSchema,
  secretParamsSchema,
  secretViewSchema,
} from '@stepwise/shared';
import { defineRoute, type RouteDefinition } from '../http/route-builder.js';
import { empty, json } from '../http/responses.js';
import {
  deleteUserSecret,
  listUserSecrets,
  putUserSecret,
  readUserPrices,
  replaceUserPrices,
  type SecretDependencies,
} from '../secrets/user-secrets.js';

/** The caller's own secrets (write-only values) and LLM price table (docs/secrets.md). */
export function secretRoutes(deps: SecretDependencies): RouteDefinition[] {
  return [
    defineRoute(
      {
        method: 'put',
        path: '/v1/me/secrets/:secret_name',
        summary: `Store one of your secrets (e.g. a provider key, at most ${MAX_SECRET_VALUE_BYTES} bytes), or replace its value; the value is encrypted and never shown again`,
        auth: 'user',
        params: secretParamsSchema,
        body: putSecretBodySchema,
        bodyExample: { value: 'sk-…' },
        responses: {
          201: json(secretViewSchema, 'Stored: its name and times, never its value'),
          200: json(secretViewSchema, 'Replaced: its name and times, never its value'),
        },
        errors: ['NOT_CONFIGURED'],
      },
      async ({ caller, params, body }) => {
        const { view, created } = await putUserSecret(
          deps,
          caller.user.user_id,
          params.secret_name,
          body.value,
        );
        return created ? { status: 201, body: view } : { status: 200, body: view };
      },
    ),
    defineRoute(
      {
        method: 'get',
        path: '/v1/me/secrets',
        summary: 'Your secrets by name (names and times only; values are never shown)',
        auth: 'user',
        responses: { 200: json(secretListSchema, 'Your secrets, by name') },
        errors: ['NOT_CONFIGURED'],
      },
      async ({ caller }) => ({
        status: 200,
        body: { items: await listUserSecrets(deps, caller.user.user_id) },
      }),
    ),
    defineRoute(
      {
        method: 'delete',
        path: '/v1/me/secrets/:secret_name',
        summary: 'Delete one of your secrets; modules that name it fail from then on',
        auth: 'user',
        params: secretParamsSchema,
        responses: { 204: empty('Deleted') },
        errors: ['NOT_FOUND', 'NOT_CONFIGURED'],
      },
      async ({ caller, params }) => {
        await deleteUserSecret(deps, caller.user.user_id, params.secret_name);
        return { status: 204 };
      },
    ),
    defineRoute(
      {
        method: 'get',
        path: '/v1/me/llm-prices',
        summary:
          'Your LLM price table: what api.llm usage of yours costs per model (models not listed: the deployment’s LLM_PRICES)',
        auth: 'user',
        responses: { 200: json(llmPricesViewSchema, 'Your price table (empty: none set)') },
      },
      async ({ caller }) => ({
        status: 200,
        body: await readUserPrices(deps.models, caller.user.user_id),
      }),
    ),
    defineRoute(
      {
        method: 'put',
        path: '/v1/me/llm-prices',
        summary: 'Replace your LLM price table (applies to calls made from now on)',
        auth: 'user',
        body: llmPricesBodySchema,
        bodyExample: {
          prices: { 'gpt-4o-mini': { input_per_1k_tokens: 0.00015, output_per_1k_tokens: 0.0006 } },
        },
        responses: { 200: json(llmPricesViewSchema, 'Your price table as stored') },
      },
      async ({ caller, body }) => ({
        status: 200,
        body: await replaceUserPrices(deps.models, caller.user.user_id, body.prices),
      }),
    ),
  ];
}
