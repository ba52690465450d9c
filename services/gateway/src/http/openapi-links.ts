import { z } from 'zod';
import type { RouteDefinition } from './route-builder.js';

/**
 * OpenAPI links: which later requests an answer's ids lead to (a created run's id to every
 * `/v1/runs/{id}` route, its pending interaction to the answer route, a job id to its job). They
 * let a generated client, and a stateful fuzzer, follow a run from the request that made it.
 */

/** The id fields answers carry, and the path parameter each one fills. */
const pathParamOfField: Readonly<Record<string, string>> = {
  workflow_run_id: 'id',
  interaction_id: 'interaction_id',
  job_id: 'job_id',
  workflow_version_id: 'version_id',
  workflow_template_name: 'name',
  artifact_id: 'artifact_id',
  subscription_id: 'subscription_id',
  // Not `key_id`: the only route it opens revokes the key, and a link is read as "where to find
  // what was just made" (schemathesis checks a created resource is there by following it).
};

function objectShape(schema: z.ZodType): Record<string, z.ZodType> | null {
  let inner: z.ZodType = schema;
  while (inner instanceof z.ZodNullable || inner instanceof z.ZodOptional) {
    inner = inner.unwrap() as z.ZodType;
  }
  return inner instanceof z.ZodObject ? (inner.shape as Record<string, z.ZodType>) : null;
}

/** Path parameter → JSON pointer into the body, for the id fields at the top or one level down. */
function parameterPointers(body: z.ZodType): Map<string, string> {
  const pointers = new Map<string, string>();
  const visit = (shape: Record<string, z.ZodType>, prefix: string, depth: number) => {
    for (const [field, fieldSchema] of Object.entries(shape)) {
      const param = pathParamOfField[field];
      if (param && !pointers.has(param)) pointers.set(param, `${prefix}/${field}`);
      const nested = depth < 2 ? objectShape(fieldSchema) : null;
      if (nested) visit(nested, `${prefix}/${field}`, depth + 1);
    }
  };
  const shape = objectShape(body);
  if (shape) visit(shape, '', 1);
  return pointers;
}

function pathParams(path: string): string[] {
  return [...path.matchAll(/:([A-Za-z0-9_]+)/g)].map((match) => match[1] ?? '');
}

/** The links of an answer whose body has `body`'s shape, keyed by the target's operation id. */
export function linksOf(
  body: z.ZodType,
  routes: readonly RouteDefinition['spec'][],
  operationIdOf: (spec: RouteDefinition['spec']) => string,
): Record<string, unknown> {
  const pointers = parameterPointers(body);
  const links: Record<string, unknown> = {};
  for (const target of routes) {
    const params = pathParams(target.path);
    if (params.length === 0 || !params.every((param) => pointers.has(param))) continue;
    links[operationIdOf(target)] = {
      operationId: operationIdOf(target),
      parameters: Object.fromEntries(
        params.map((param) => [param, `$response.body#${pointers.get(param) ?? ''}`]),
      ),
    };
  }
  return links;
}
