import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { idKinds, newId, type IdKind } from '@stepwise/shared';
import { exampleBundle } from './support/bundles.js';
import { useTestDatabases } from './support/databases.js';
import { startTestGateway, startTestResolver } from './support/gateway.js';
import {
  createRawClient,
  fetchRouteOperations,
  fillPath,
  parseEnvelope,
  takesUpload,
  type JsonSchema,
  type RawRequest,
  type RawResponse,
  type RouteOperation,
  type RouteParameter,
} from './support/openapi-routes.js';
import { startTestRunner } from './support/runner.js';
import { snapshotDatabase } from './support/snapshots.js';
import {
  ChangeTracker,
  patternOfKind,
  seedTenants,
  startAwaitingRun,
  type OwnedResource,
  type ResourceKind,
  type SeededTenant,
  type TenantWorld,
} from './support/tenant-world.js';

/**
 * Tenant isolation, route by route, from the OpenAPI document: bob calls every user operation with
 * alice's ids (and alice's ids inside his own requests), and must get exactly what an id that does
 * not exist gets, a 404 that changes nothing. Operations without ids must show bob nothing of
 * alice's. A user operation that neither takes an id nor has a list check fails the file, so a new
 * route cannot be left out.
 */

const db = await useTestDatabases('isolation_matrix');
const gateway = await startTestGateway(db);
await startTestResolver(db);
await startTestRunner(db);
const tracker = new ChangeTracker(db, [
  gateway.deps.queues.resolve.queue,
  gateway.deps.queues.runCommand.queue,
  gateway.deps.queues.maintenance.queue,
  gateway.deps.queues.deletion.queue,
]);
const operations = await fetchRouteOperations(gateway.url);
const userOperations = operations.filter((operation) => operation.auth === 'user');
const http = createRawClient(gateway.url);
afterAll(() => http.close());

let world: TenantWorld;
let alice: SeededTenant;
let bob: SeededTenant;
let petClipsZip: Buffer;
beforeAll(async () => {
  world = await seedTenants(gateway);
  alice = world.alice;
  bob = world.bob;
  petClipsZip = await exampleBundle();
  await tracker.settle();
}, 180_000);

const resourceKinds: ResourceKind[] = [
  ...(Object.keys(idKinds) as IdKind[]),
  'templateName',
  'secretName',
];

/** The kind of value a path parameter takes, by its pattern in the document. */
function kindOfPattern(pattern: string | undefined): ResourceKind | null {
  return resourceKinds.find((kind) => patternOfKind(kind) === pattern) ?? null;
}

/**
 * The kind of id a query parameter or body field holds, if it holds one. Only id kinds: a template
 * name's pattern is also that of step ids and module names, which are not owned by anyone.
 */
function idKindOf(schema: JsonSchema | undefined): IdKind | null {
  const kind = kindOfPattern(schema?.pattern);
  return kind === null || kind === 'templateName' || kind === 'secretName' ? null : kind;
}

function freshValue(kind: ResourceKind): string {
  if (kind === 'templateName') return 'no_such_template';
  if (kind === 'secretName') return 'NO_SUCH_SECRET';
  return newId(kind);
}

function owned(tenant: SeededTenant, kind: ResourceKind): OwnedResource[] {
  return tenant.resources.filter((resource) => resource.kind === kind);
}

/** Every combination of one value per list. */
function combinations<T>(lists: readonly (readonly T[])[]): T[][] {
  return lists.reduce<T[][]>(
    (combos, list) => combos.flatMap((combo) => list.map((item) => [...combo, item])),
    [[]],
  );
}

interface Body {
  note: string;
  contentType: string | null;
  bytes: Buffer | null;
}

/**
 * Candidate JSON bodies from the operation's schema: the required fields, then each optional one
 * added, then all of them; id fields hold `idFor(kind)`. Some candidates may break a rule the
 * schema cannot express (say, "exactly one of"): the caller learns which are valid by probing.
 */
function bodyShapes(schema: JsonSchema, idFor: (kind: IdKind) => string): Body[] {
  // One of several whole objects (a union in the document): the shapes of each.
  const alternatives = schema.oneOf ?? schema.anyOf;
  if (alternatives && !schema.properties) {
    const seen = new Set<string>();
    return alternatives
      .flatMap((alternative) => bodyShapes(alternative, idFor))
      .filter((body) => {
        const text = body.bytes?.toString() ?? '';
        if (seen.has(text)) return false;
        seen.add(text);
        return true;
      });
  }
  const properties = schema.properties ?? {};
  const required = (schema.required ?? []).filter((name) => name in properties);
  const optional = Object.keys(properties).filter((name) => !required.includes(name));
  const valueOf = (name: string): unknown => {
    const property = properties[name] ?? {};
    const kind = idKindOf(property);
    if (kind) return idFor(kind);
    if (property.enum && property.enum.length > 0) return property.enum[0];
    if (property.const !== undefined) return property.const;
    if (property.pattern)
      return fc.sample(fc.stringMatching(new RegExp(property.pattern)), { numRuns: 1, seed: 7 })[0];
    switch (Array.isArray(property.type) ? property.type[0] : property.type) {
      case 'string':
        return 'isolation check'.slice(0, property.maxLength ?? 15);
      case 'integer':
      case 'number':
        return property.minimum ?? 1;
      case 'boolean':
        return true;
      case 'array':
        return [];
      default:
        return {};
    }
  };
  const shapes = [
    required,
    ...optional.map((name) => [...required, name]),
    [...required, ...optional],
  ];
  const seen = new Set<string>();
  return shapes.flatMap((names) => {
    const text = JSON.stringify(Object.fromEntries(names.map((name) => [name, valueOf(name)])));
    if (seen.has(text)) return [];
    seen.add(text);
    return [
      {
        note: `body with ${names.join(', ') || 'no fields'}`,
        contentType: 'application/json',
        bytes: Buffer.from(text),
      },
    ];
  });
}

/** Bodies for an operation, with id fields from `idFor`; `[none]` when it takes no body. */
function bodiesFor(operation: RouteOperation, idFor: (kind: IdKind) => string): Body[] {
  if (takesUpload(operation)) {
    return [
      { note: 'no body', contentType: null, bytes: null },
      {
        note: "alice's workflow as JSON",
        contentType: 'application/json',
        bytes: Buffer.from(JSON.stringify(alice.workflowJson)),
      },
      { note: "alice's bundle as a zip", contentType: 'application/zip', bytes: petClipsZip },
    ];
  }
  if (operation.jsonBodySchema) return bodyShapes(operation.jsonBodySchema, idFor);
  return [{ note: 'no body', contentType: null, bytes: null }];
}

/** The required id query parameters (`version_id` of a comparison), each filled by `idFor`. */
function requiredQuery(
  parameters: RouteParameter[],
  idFor: (kind: IdKind) => string,
): Record<string, string> {
  return Object.fromEntries(
    parameters.flatMap((parameter) => {
      const kind = idKindOf(parameter.schema);
      return parameter.required && kind ? [[parameter.name, idFor(kind)]] : [];
    }),
  );
}

function requestAs(
  tenant: SeededTenant,
  operation: RouteOperation,
  pathValues: Record<string, string>,
  query: Record<string, string>,
  body: Body,
): RawRequest {
  // A deletion's confirmation repeats the path's name (DELETE /v1/templates/{name}?confirm=):
  // with it, the request is judged on whose the name is.
  const confirms = operation.queryParameters.some((p) => p.name === 'confirm' && p.required);
  const filled =
    confirms && !('confirm' in query) ? { ...query, confirm: pathValues['name'] ?? '' } : query;
  const search = new URLSearchParams(filled).toString();
  return {
    method: operation.method.toUpperCase(),
    path: `${fillPath(operation, pathValues)}${search ? `?${search}` : ''}`,
    headers: {
      authorization: `Bearer ${tenant.apiKey}`,
      ...(body.contentType ? { 'content-type': body.contentType } : {}),
    },
    ...(body.bytes ? { body: body.bytes } : {}),
  };
}

/** The same request sent with the tenant's session cookie instead of their key. */
function withSession(tenant: SeededTenant, raw: RawRequest): RawRequest {
  const { authorization: _key, ...headers } = raw.headers ?? {};
  return { ...raw, headers: { ...headers, cookie: tenant.session.cookie } };
}

/** GET /v1/me as the tenant. */
function meRequest(tenant: SeededTenant): RawRequest {
  return requestAs(tenant, meOperation('get /v1/me'), {}, {}, noBody);
}

function answerOf(response: RawResponse): string {
  return response.status >= 400
    ? `${response.status} ${parseEnvelope(response).error.code}`
    : `${response.status}`;
}

/** Sends a request that must change nothing: same database, no job enqueued. */
async function sendChangingNothing(raw: RawRequest): Promise<RawResponse> {
  const before = await snapshotDatabase(db.mongo);
  const mark = await tracker.mark();
  const response = await http.send(raw);
  const { jobs } = await tracker.since(mark);
  const where = `${raw.method} ${raw.path} → ${response.status}`;
  expect(jobs, `${where} enqueued jobs`).toEqual([]);
  expect(await snapshotDatabase(db.mongo), `${where} changed the database`).toEqual(before);
  return response;
}

/** Documents that belong to alice, by the fields that say whose a document is. */
function aliceDocuments(snapshot: Record<string, unknown[]>): Record<string, unknown[]> {
  const runs = new Set(owned(alice, 'run').map((r) => r.value));
  const templates = new Set(owned(alice, 'template').map((r) => r.value));
  const isAlices = (document: unknown) => {
    const record = document as Record<string, unknown>;
    const metadata = (record['metadata'] ?? {}) as Record<string, unknown>;
    return (
      record['user_id'] === alice.userId ||
      metadata['user_id'] === alice.userId ||
      runs.has(String(record['workflow_run_id'])) ||
      templates.has(String(record['workflow_template_id']))
    );
  };
  return Object.fromEntries(
    Object.entries(snapshot).map(([name, documents]) => [name, documents.filter(isAlices)]),
  );
}

/** Every id alice owns (names aside: bob may own a template or a secret of the same name). */
function aliceIds(): string[] {
  return alice.resources
    .filter((r) => r.kind !== 'templateName' && r.kind !== 'secretName')
    .map((r) => r.value);
}

/** Bob's answer names none of alice's ids but those he sent (an error may quote what it got). */
function expectNoneOfAlices(response: RawResponse, where: string, sent?: RawRequest): void {
  const text = response.body.toString('utf8');
  const quoted = sent ? `${sent.path} ${sent.body?.toString('utf8') ?? ''}` : '';
  const leaked = aliceIds().filter((id) => text.includes(id) && !quoted.includes(id));
  expect(leaked, `${where} shows bob alice's ids`).toEqual([]);
  expect(text, `${where} shows alice's secret`).not.toContain(alice.secretValue);
}

/** Where an operation takes ids: its path parameters, and id-typed query parameters and fields. */
function idSlots(operation: RouteOperation) {
  return {
    path: operation.pathParameters,
    query: operation.queryParameters.filter((p) => idKindOf(p.schema) !== null),
    body: Object.entries(operation.jsonBodySchema?.properties ?? {}).filter(
      ([, schema]) => idKindOf(schema) !== null,
    ),
  };
}

/**
 * Operations on a name in the caller's own namespace that create what they name: bob's PUT of
 * alice's secret name stores a secret of his (201), which is right, not a 404. Their list checks
 * show that alice's stays as it was.
 */
const ownNamespaceWrites = new Set(['put /v1/me/secrets/{secret_name}']);

function takesIds(operation: RouteOperation): boolean {
  if (ownNamespaceWrites.has(operation.key)) return false;
  const slots = idSlots(operation);
  return slots.path.length + slots.query.length + slots.body.length > 0;
}

/**
 * What bob must see of the operations that take no id: nothing of alice's. Keyed by operation; a
 * user operation without ids and without an entry here fails the coverage test.
 */
const listChecks: Record<string, () => Promise<void>> = {
  'get /v1/me': async () => {
    const response = await sendChangingNothing(
      requestAs(bob, meOperation('get /v1/me'), {}, {}, noBody),
    );
    expect(response.status).toBe(200);
    expect(JSON.parse(response.body.toString()).user.user_id).toBe(bob.userId);
    expectNoneOfAlices(response, 'GET /v1/me');
  },
  'get /v1/me/keys': async () => {
    const response = await sendChangingNothing(
      requestAs(bob, meOperation('get /v1/me/keys'), {}, {}, noBody),
    );
    expect(response.status).toBe(200);
    const keys = (JSON.parse(response.body.toString()) as { items: { key_id: string }[] }).items;
    expect(keys.map((k) => k.key_id)).toEqual(
      expect.arrayContaining(owned(bob, 'accessKey').map((k) => k.value)),
    );
    expectNoneOfAlices(response, 'GET /v1/me/keys');
  },
  'post /v1/me/keys': async () => {
    const before = aliceDocuments(await snapshotDatabase(db.mongo));
    const response = await http.send(
      requestAs(bob, meOperation('post /v1/me/keys'), {}, {}, noBody),
    );
    expect(response.status).toBe(201);
    expectNoneOfAlices(response, 'POST /v1/me/keys');
    const issued = JSON.parse(response.body.toString()) as { key_id: string };
    const stored = await db.models.accessKeys.findOne({ key_id: issued.key_id }).lean();
    expect(stored?.user_id).toBe(bob.userId);
    expect(aliceDocuments(await snapshotDatabase(db.mongo))).toEqual(before);
  },
  'get /v1/webhooks': async () => {
    const response = await sendChangingNothing(
      requestAs(bob, meOperation('get /v1/webhooks'), {}, {}, noBody),
    );
    expect(response.status).toBe(200);
    const items = (JSON.parse(response.body.toString()) as { items: { subscription_id: string }[] })
      .items;
    // Bob's seeded subscription, and any his own POST made (its check may run first); the
    // stored owner of each is bob.
    const ids = items.map((w) => w.subscription_id);
    expect(ids).toEqual(expect.arrayContaining(owned(bob, 'webhook').map((w) => w.value)));
    const owners = await db.models.webhookSubscriptions
      .find({ subscription_id: { $in: ids } }, { user_id: 1 })
      .lean();
    expect(owners.map((o) => o.user_id)).toEqual(ids.map(() => bob.userId));
    expectNoneOfAlices(response, 'GET /v1/webhooks');
  },
  'post /v1/webhooks': async () => {
    // Bob's new subscription is his: alice's documents stay as they were, and it never lists
    // among hers.
    const before = aliceDocuments(await snapshotDatabase(db.mongo));
    const response = await http.send({
      ...requestAs(bob, meOperation('post /v1/webhooks'), {}, {}, noBody),
      headers: { authorization: `Bearer ${bob.apiKey}`, 'content-type': 'application/json' },
      body: Buffer.from(
        JSON.stringify({
          url: 'https://93.184.215.14/hooks/bob-again',
          events: ['run.failed'],
          templates: ['never_runs'],
        }),
      ),
    });
    expect(response.status).toBe(201);
    expectNoneOfAlices(response, 'POST /v1/webhooks');
    const created = JSON.parse(response.body.toString()) as { subscription_id: string };
    const stored = await db.models.webhookSubscriptions
      .findOne({ subscription_id: created.subscription_id })
      .lean();
    expect(stored?.user_id).toBe(bob.userId);
    expect(aliceDocuments(await snapshotDatabase(db.mongo))).toEqual(before);
    const alicesList = await http.send(
      requestAs(alice, meOperation('get /v1/webhooks'), {}, {}, noBody),
    );
    expect(alicesList.body.toString()).not.toContain(created.subscription_id);
  },
  'get /v1/templates': async () => {
    const response = await sendChangingNothing(
      requestAs(bob, meOperation('get /v1/templates'), {}, {}, noBody),
    );
    expect(response.status).toBe(200);
    const items = (
      JSON.parse(response.body.toString()) as { items: { workflow_template_id: string }[] }
    ).items;
    expect(items.map((t) => t.workflow_template_id)).toEqual(
      expect.arrayContaining(owned(bob, 'template').map((t) => t.value)),
    );
    expectNoneOfAlices(response, 'GET /v1/templates');
  },
  'get /v1/runs': async () => {
    const operation = meOperation('get /v1/runs');
    const filters: Record<string, string>[] = [
      {},
      { limit: '100' },
      ...['running', 'awaiting_input', 'completed', 'error', 'cancelled'].map((status) => ({
        status,
      })),
      ...owned(alice, 'templateName').map((name) => ({ template: name.value })),
      { project_name: alice.projectName },
    ];
    for (const query of filters) {
      const response = await sendChangingNothing(requestAs(bob, operation, {}, query, noBody));
      const where = `GET /v1/runs?${new URLSearchParams(query).toString()}`;
      expect(response.status, where).toBe(200);
      const items = (JSON.parse(response.body.toString()) as { items: { user_id: string }[] })
        .items;
      expect(
        items.every((run) => run.user_id === bob.userId),
        where,
      ).toBe(true);
      expectNoneOfAlices(response, where);
    }
  },
  'get /v1/me/session': async () => {
    // With bob's cookie: bob's session, nothing of alice's; with his key: no session at all.
    const operation = meOperation('get /v1/me/session');
    const response = await sendChangingNothing(
      withSession(bob, requestAs(bob, operation, {}, {}, noBody)),
    );
    expect(response.status).toBe(200);
    const session = JSON.parse(response.body.toString()) as { user: { user_id: string } };
    expect(session.user.user_id).toBe(bob.userId);
    expect(response.body.toString()).not.toContain(alice.session.csrfToken);
    expectNoneOfAlices(response, 'GET /v1/me/session');
    const withKey = await sendChangingNothing(requestAs(bob, operation, {}, {}, noBody));
    expect(withKey.status).toBe(404);
  },
  'delete /v1/me/session': async () => {
    // Bob signing out (a session of his own made for it) ends his, never alice's.
    const signedIn = await http.send({
      method: 'POST',
      path: '/v1/auth/sessions',
      headers: { 'content-type': 'application/json' },
      body: Buffer.from(JSON.stringify({ login: bob.username, password: bob.password })),
    });
    expect(signedIn.status).toBe(201);
    const cookie = (signedIn.headers['set-cookie']?.[0] ?? '').split(';')[0] ?? '';
    const csrf = (JSON.parse(signedIn.body.toString()) as { csrf_token: string }).csrf_token;
    const before = aliceDocuments(await snapshotDatabase(db.mongo));
    const out = await http.send({
      method: 'DELETE',
      path: '/v1/me/session',
      headers: { cookie, origin: new URL(gateway.url).origin, 'x-csrf-token': csrf },
    });
    expect(out.status).toBe(204);
    expect(aliceDocuments(await snapshotDatabase(db.mongo))).toEqual(before);
    expect((await http.send(withSession(alice, meRequest(alice)))).status).toBe(200);
  },
  'put /v1/me/password': async () => {
    // Bob's change (to the same password) touches no password but his, and ends no session of
    // alice's.
    const alicesBefore = await db.models.passwords.findOne({ user_id: alice.userId }).lean();
    const response = await http.send({
      ...requestAs(bob, meOperation('put /v1/me/password'), {}, {}, noBody),
      headers: { authorization: `Bearer ${bob.apiKey}`, 'content-type': 'application/json' },
      body: Buffer.from(
        JSON.stringify({ current_password: bob.password, new_password: bob.password }),
      ),
    });
    expect(response.status).toBe(204);
    expect(await db.models.passwords.findOne({ user_id: alice.userId }).lean()).toEqual(
      alicesBefore,
    );
    expect((await http.send(withSession(alice, meRequest(alice)))).status).toBe(200);
  },
  'get /v1/me/interactions': async () => {
    const operation = meOperation('get /v1/me/interactions');
    // Alice has questions waiting (else bob seeing none of them would prove nothing).
    expect(
      await db.models.runs.countDocuments({ user_id: alice.userId, status: 'awaiting_input' }),
    ).toBeGreaterThan(0);
    const bobsWaiting = (
      await db.models.runs
        .find({ user_id: bob.userId, status: 'awaiting_input' })
        .select({ workflow_run_id: 1 })
        .lean()
    ).map((run) => run.workflow_run_id);
    const filters: Record<string, string>[] = [
      {},
      { sort: 'newest' },
      { limit: '100' },
      ...owned(alice, 'templateName').map((name) => ({ workflow_template_name: name.value })),
      { project_name: alice.projectName },
    ];
    for (const filter of filters) {
      // Every page, following the cursors.
      let query: Record<string, string> = { ...filter, limit: filter['limit'] ?? '1' };
      const seen: string[] = [];
      for (let pages = 0; pages < 50; pages++) {
        const response = await sendChangingNothing(requestAs(bob, operation, {}, query, noBody));
        const where = `GET /v1/me/interactions?${new URLSearchParams(query).toString()}`;
        expect(response.status, where).toBe(200);
        expectNoneOfAlices(response, where);
        const page = JSON.parse(response.body.toString()) as {
          items: { workflow_run_id: string }[];
          next_cursor: string | null;
          total: number;
        };
        seen.push(...page.items.map((item) => item.workflow_run_id));
        if (Object.keys(filter).length === 0 || filter['sort'] || filter['limit'])
          expect(page.total, where).toBe(bobsWaiting.length);
        if (!page.next_cursor) break;
        query = { ...query, cursor: page.next_cursor };
      }
      expect(
        seen.every((runId) => bobsWaiting.includes(runId)),
        JSON.stringify(filter),
      ).toBe(true);
      if (Object.keys(filter).length === 0)
        expect([...seen].sort()).toEqual([...bobsWaiting].sort());
    }
  },
  'get /v1/me/stream': async () => {
    // Bob's stream from the beginning of time (Last-Event-ID 0: every change of every run he can
    // see), held open while alice's runs change: only bob's runs appear.
    const bobsRuns = new Set(
      (
        await db.models.runs.find({ user_id: bob.userId }).select({ workflow_run_id: 1 }).lean()
      ).map((run) => run.workflow_run_id),
    );
    for (const lastEventId of ['0', undefined]) {
      const abort = new AbortController();
      const response = await fetch(`${gateway.url}/v1/me/stream`, {
        headers: {
          authorization: `Bearer ${bob.apiKey}`,
          ...(lastEventId === undefined ? {} : { 'last-event-id': lastEventId }),
        },
        signal: abort.signal,
      });
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
      let text = '';
      const reading = (async () => {
        const decoder = new TextDecoder();
        for await (const chunk of response.body ?? []) text += decoder.decode(chunk as Uint8Array);
      })().catch(() => undefined);
      const aliceNew = await startAwaitingRun(alice);
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      abort.abort();
      await reading;
      const where = `GET /v1/me/stream (Last-Event-ID ${lastEventId ?? 'none'})`;
      const leaked = [...aliceIds(), ...aliceNew.map((r) => r.value)].filter((id) =>
        text.includes(id),
      );
      expect(leaked, `${where} shows bob alice's ids`).toEqual([]);
      const mentioned = [...text.matchAll(/"workflow_run_id":"([^"]+)"/g)].map((m) => m[1]);
      expect(
        mentioned.filter((runId) => !bobsRuns.has(runId ?? '')),
        where,
      ).toEqual([]);
      // From the beginning of time bob's own runs are there (the check reads real messages).
      if (lastEventId === '0') expect(mentioned.length, where).toBeGreaterThan(0);
    }
  },
  'post /v1/runs': async () => {
    // By id the generic substitution covers it; by name (not an id pattern) it is checked here.
    const operation = meOperation('post /v1/runs');
    // Bob may by now have templates of the same names as alice's (his own): those are his to run.
    const listed = await http.send(
      requestAs(bob, meOperation('get /v1/templates'), {}, {}, noBody),
    );
    const bobsNames = new Set(
      (
        JSON.parse(listed.body.toString()) as { items: { workflow_template_name: string }[] }
      ).items.map((template) => template.workflow_template_name),
    );
    for (const name of owned(alice, 'templateName').filter((n) => !bobsNames.has(n.value))) {
      const response = await sendChangingNothing(
        requestAs(
          bob,
          operation,
          {},
          {},
          {
            note: "alice's template name",
            contentType: 'application/json',
            bytes: Buffer.from(
              JSON.stringify({ project_name: bob.projectName, workflow_template_name: name.value }),
            ),
          },
        ),
      );
      expect(answerOf(response), name.value).toBe('404 NOT_FOUND');
    }
  },
  'post /v1/workflows': async () => {
    // The same content as alice's is bob's own template and version, never hers.
    const operation = meOperation('post /v1/workflows');
    for (const body of bodiesFor(operation, freshValue).filter((b) => b.bytes !== null)) {
      const before = aliceDocuments(await snapshotDatabase(db.mongo));
      const response = await http.send(requestAs(bob, operation, {}, {}, body));
      expect(response.status, body.note).toBe(201);
      expectNoneOfAlices(response, `POST /v1/workflows with ${body.note}`);
      const version = JSON.parse(response.body.toString()) as { workflow_template_id: string };
      const template = await db.models.templates
        .findOne({ workflow_template_id: version.workflow_template_id })
        .lean();
      expect(template?.user_id).toBe(bob.userId);
      await tracker.settle();
      expect(aliceDocuments(await snapshotDatabase(db.mongo))).toEqual(before);
    }
  },
  ...readsOfOwnSettings([
    'get /v1/me/secrets',
    'get /v1/me/llm-prices',
    'get /v1/me/retention',
    'get /v1/me/retention/reports',
    'get /v1/deletions',
  ]),
  'put /v1/me/secrets/{secret_name}': async () => {
    // Bob storing a secret under alice's name stores his own; hers stays as it was.
    const name = owned(alice, 'secretName')[0]?.value ?? '';
    await writesBobsOwn(
      'put /v1/me/secrets/{secret_name}',
      { secret_name: name },
      { value: 'bob-own-value' },
    );
    const stored = await db.models.userSecrets.find({ name }, { user_id: 1 }).lean();
    expect(stored.map((secret) => secret.user_id).sort()).toEqual(
      [alice.userId, bob.userId].sort(),
    );
    // Gone again, so bob's DELETE of alice's name stays a 404 whatever order the checks run in.
    const removed = await http.send(
      requestAs(
        bob,
        meOperation('delete /v1/me/secrets/{secret_name}'),
        { secret_name: name },
        {},
        noBody,
      ),
    );
    expect(removed.status).toBe(204);
  },
  'put /v1/me/llm-prices': async () => {
    await writesBobsOwn(
      'put /v1/me/llm-prices',
      {},
      {
        prices: { 'bob-model': { input_per_1k_tokens: 1, output_per_1k_tokens: 2 } },
      },
    );
  },
  'put /v1/me/retention': async () => {
    await writesBobsOwn(
      'put /v1/me/retention',
      {},
      {
        delete_finished_runs_after_days: null,
        export_before_delete: false,
        delete_artifacts_after_days: null,
      },
    );
  },
  'post /v1/runs/import': async () => {
    // Bob's own run, exported and imported: a new run of his, nothing of alice's touched.
    const bobsRun = owned(bob, 'run')[0]?.value ?? '';
    const exported = await http.send(
      requestAs(bob, meOperation('get /v1/runs/{id}/export'), { id: bobsRun }, {}, noBody),
    );
    expect(exported.status).toBe(200);
    const before = aliceDocuments(await snapshotDatabase(db.mongo));
    const response = await http.send(
      requestAs(
        bob,
        meOperation('post /v1/runs/import'),
        {},
        {},
        {
          note: "bob's exported run",
          contentType: 'application/zip',
          bytes: exported.body,
        },
      ),
    );
    expect(response.status, response.body.toString()).toBe(201);
    expectNoneOfAlices(response, 'POST /v1/runs/import');
    const imported = JSON.parse(response.body.toString()) as { run_id: string };
    const run = await db.models.runs.findOne({ workflow_run_id: imported.run_id }).lean();
    expect(run?.user_id).toBe(bob.userId);
    await tracker.settle();
    expect(aliceDocuments(await snapshotDatabase(db.mongo))).toEqual(before);
  },
};

/** Checks that bob's reads of his own settings and lists show nothing of alice's. */
function readsOfOwnSettings(keys: string[]): Record<string, () => Promise<void>> {
  return Object.fromEntries(
    keys.map((key) => [
      key,
      async () => {
        const response = await sendChangingNothing(
          requestAs(bob, meOperation(key), {}, {}, noBody),
        );
        expect(response.status, key).toBe(200);
        expectNoneOfAlices(response, key);
        for (const name of owned(alice, 'secretName'))
          expect(response.body.toString(), key).not.toContain(name.value);
      },
    ]),
  );
}

/** Bob writes a setting of his own: it is stored as his, and alice's documents stay as they were. */
async function writesBobsOwn(
  key: string,
  pathValues: Record<string, string>,
  body: unknown,
): Promise<void> {
  const before = aliceDocuments(await snapshotDatabase(db.mongo));
  const response = await http.send(
    requestAs(
      bob,
      meOperation(key),
      pathValues,
      {},
      {
        note: 'a valid body',
        contentType: 'application/json',
        bytes: Buffer.from(JSON.stringify(body)),
      },
    ),
  );
  expect(response.status, `${key}: ${response.body.toString()}`).toBeLessThan(300);
  expectNoneOfAlices(response, key);
  await tracker.settle();
  expect(aliceDocuments(await snapshotDatabase(db.mongo)), key).toEqual(before);
}

const noBody: Body = { note: 'no body', contentType: null, bytes: null };

function meOperation(key: string): RouteOperation {
  const operation = operations.find((o) => o.key === key);
  if (!operation) throw new Error(`${key} is not in the document any more`);
  return operation;
}

describe('the isolation matrix covers the whole document', () => {
  it('every user operation takes an id, or has a list check', () => {
    const uncovered = userOperations
      .filter((operation) => !takesIds(operation) && !(operation.key in listChecks))
      .map((operation) => operation.key);
    expect(uncovered, 'add a list check for these, or make them take ids').toEqual([]);
    expect(userOperations.length).toBeGreaterThan(20);
  });

  it('alice owns a value for every path parameter of every user operation', () => {
    const missing = userOperations.flatMap((operation) =>
      operation.pathParameters
        .filter((parameter) => {
          const kind = kindOfPattern(parameter.schema.pattern);
          return kind === null || owned(alice, kind).length === 0;
        })
        .map((parameter) => `${operation.key}: {${parameter.name}}`),
    );
    expect(missing, 'seed alice with these in test/support/tenant-world.ts').toEqual([]);
  });
});

describe("bob calls every user operation with alice's ids", () => {
  it.each(userOperations.filter(takesIds).map((operation) => [operation.key, operation] as const))(
    '%s answers 404 NOT_FOUND, as for ids that do not exist, and changes nothing',
    async (_key, operation) => {
      const slots = idSlots(operation);
      const kinds = slots.path.map((parameter) => {
        const kind = kindOfPattern(parameter.schema.pattern);
        if (kind === null)
          throw new Error(`${operation.key}: no known kind for {${parameter.name}}`);
        return kind;
      });
      const aliceFirst = (kind: IdKind) => owned(alice, kind)[0]?.value ?? freshValue(kind);

      // Which bodies the schema accepts: with ids that exist nowhere, a valid one is 404 and an
      // invalid one 400 (validation never looks at whose ids they are).
      const freshPath = Object.fromEntries(
        slots.path.map((parameter, index) => [
          parameter.name,
          freshValue(kinds[index] ?? 'templateName'),
        ]),
      );
      const validBodies: Body[] = [];
      for (const body of bodiesFor(operation, freshValue)) {
        const probe = await sendChangingNothing(
          requestAs(bob, operation, freshPath, requiredQuery(slots.query, freshValue), body),
        );
        if (answerOf(probe) === '404 NOT_FOUND') validBodies.push(body);
        else
          expect(answerOf(probe), `${operation.key} probe with ${body.note}`).toBe(
            '400 BAD_REQUEST',
          );
      }
      expect(validBodies.length, `no body of ${operation.key} passes validation`).toBeGreaterThan(
        0,
      );
      const validNotes = new Set(validBodies.map((b) => b.note));
      const aliceBodies = bodiesFor(operation, aliceFirst).filter((b) => validNotes.has(b.note));
      // Every id alice owns of a body field's kind, one variant each.
      for (const [field, schema] of slots.body) {
        const kind = idKindOf(schema);
        if (!kind) continue;
        for (const resource of owned(alice, kind).slice(1)) {
          aliceBodies.push(
            ...bodiesFor(operation, (k) => (k === kind ? resource.value : aliceFirst(k)))
              .filter((b) => validNotes.has(b.note) && b.note.includes(field))
              .map((b) => ({ ...b, note: `${b.note} (${field}: ${resource.note})` })),
          );
        }
      }

      // Every combination of alice's values (none without path parameters; none at all, and the
      // case count below fails, if she owns nothing of a kind).
      const pathCombos = combinations(kinds.map((kind) => owned(alice, kind)));
      // A required query id (e.g. version_id) goes in every request; an optional one is also left out.
      const required = requiredQuery(slots.query, aliceFirst);
      const queries: { note: string; values: Record<string, string> }[] = [
        Object.keys(required).length === 0
          ? { note: 'no query', values: {} }
          : { note: 'required query', values: required },
        ...slots.query.flatMap((parameter) => {
          const kind = idKindOf(parameter.schema);
          return kind
            ? owned(alice, kind).map((r) => ({
                note: `${parameter.name}: ${r.note}`,
                values: { ...required, [parameter.name]: r.value },
              }))
            : [];
        }),
      ];
      let cases = 0;
      for (const combo of pathCombos) {
        const pathValues = Object.fromEntries(
          slots.path.map((parameter, index) => [parameter.name, combo[index]?.value ?? '']),
        );
        for (const query of queries) {
          for (const body of aliceBodies) {
            const raw = requestAs(bob, operation, pathValues, query.values, body);
            const response = await sendChangingNothing(raw);
            const where = `${raw.method} ${raw.path} with ${body.note} [${combo.map((r) => r.note).join(', ')}; ${query.note}]`;
            expect(answerOf(response), where).toBe('404 NOT_FOUND');
            cases++;
          }
        }
      }
      expect(cases).toBeGreaterThan(0);
    },
    120_000,
  );

  it.each(
    userOperations
      .filter((operation) => {
        const slots = idSlots(operation);
        return (
          slots.path.length > 0 && slots.path.length + slots.query.length + slots.body.length > 1
        );
      })
      .map((operation) => [operation.key, operation] as const),
  )(
    "%s on bob's own resource, with alice's ids in its other places, answers as for ids that do not exist",
    async (_key, operation) => {
      const slots = idSlots(operation);
      const [first, ...rest] = slots.path;
      const firstKind = kindOfPattern(first?.schema.pattern);
      if (!first || !firstKind)
        throw new Error(`${operation.key}: no kind for its first parameter`);
      const bobsOwn = owned(bob, firstKind)[0];
      expect(bobsOwn, `bob owns no ${firstKind}`).toBeDefined();
      const kinds = rest.map((parameter) => {
        const kind = kindOfPattern(parameter.schema.pattern);
        if (kind === null)
          throw new Error(`${operation.key}: no known kind for {${parameter.name}}`);
        return kind;
      });
      /** The request with alice's value (or a fresh one) in every place but the first. */
      const variant = (pick: (kind: ResourceKind) => string[]) => {
        const bodies = bodiesFor(operation, (kind) => pick(kind)[0] ?? freshValue(kind));
        const requests: { note: string; raw: RawRequest }[] = [];
        const restCombos = combinations(kinds.map((kind) => pick(kind)));
        const required = requiredQuery(slots.query, (kind) => pick(kind)[0] ?? freshValue(kind));
        const queries = [
          required,
          ...slots.query.flatMap((parameter) => {
            const kind = idKindOf(parameter.schema);
            return kind
              ? pick(kind).map((value) => ({ ...required, [parameter.name]: value }))
              : [];
          }),
        ];
        for (const combo of restCombos)
          for (const query of queries)
            for (const body of bodies) {
              const pathValues = {
                [first.name]: bobsOwn?.value ?? '',
                ...Object.fromEntries(
                  rest.map((parameter, index) => [parameter.name, combo[index] ?? '']),
                ),
              };
              requests.push({
                note: `${body.note} ${JSON.stringify(query)}`,
                raw: requestAs(bob, operation, pathValues, query, body),
              });
            }
        return requests;
      };
      const fresh = variant((kind) => [freshValue(kind)]);
      const alices = variant((kind) => owned(alice, kind).map((r) => r.value));
      // Requests are matched by shape: the ids in their notes (query values) blanked out.
      const shapeOf = (note: string) => note.replace(/"[a-z]+_[0-9a-f-]+"/g, '"id"');
      const expected = new Map<string, string>();
      for (const { note, raw } of fresh)
        expected.set(shapeOf(note), answerOf(await http.send(raw)));
      await tracker.settle();
      const before = aliceDocuments(await snapshotDatabase(db.mongo));
      for (const { note, raw } of alices) {
        const response = await http.send(raw);
        expect(answerOf(response), `${raw.method} ${raw.path} ${note}`).toBe(
          expected.get(shapeOf(note)),
        );
        expectNoneOfAlices(response, `${raw.method} ${raw.path}`, raw);
      }
      await tracker.settle();
      expect(aliceDocuments(await snapshotDatabase(db.mongo)), "alice's documents changed").toEqual(
        before,
      );
    },
    120_000,
  );
});

describe('operations without ids show bob nothing of alice’s', () => {
  it.each(
    userOperations
      .filter((operation) => operation.key in listChecks)
      .map((operation) => [operation.key] as const),
  )('%s', async (key) => {
    await listChecks[key]?.();
  });
});

describe('admin operations', () => {
  it.each(
    operations
      .filter((operation) => operation.auth === 'admin')
      .map((operation) => [operation.key, operation] as const),
  )('%s refuses a user key with 403 FORBIDDEN and changes nothing', async (_key, operation) => {
    for (const tenant of [alice, bob]) {
      const values = Object.fromEntries(operation.pathParameters.map((p) => [p.name, 'x']));
      for (const body of bodiesFor(operation, freshValue)) {
        const response = await sendChangingNothing(requestAs(tenant, operation, values, {}, body));
        expect(answerOf(response), `${tenant.username}: ${operation.key} with ${body.note}`).toBe(
          '403 FORBIDDEN',
        );
      }
    }
  });
});

describe('public operations', () => {
  it.each(
    operations
      .filter((operation) => operation.auth === 'none' && operation.method === 'get')
      .filter((operation) => operation.pathParameters.length === 0)
      .map((operation) => [operation.key, operation] as const),
  )('%s mentions none of alice’s ids', async (_key, operation) => {
    const response = await sendChangingNothing({ method: 'GET', path: operation.path });
    expect(response.status).toBe(200);
    expectNoneOfAlices(response, operation.key);
  });
});
