import { crc32, deflateRawSync, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  commandOutcomeSchema,
  resolveJobResultSchema,
  type VersionSummary,
} from '@stepwise/shared';
import { exampleBundle, readTree, zipFiles } from './support/bundles.js';
import { useTestDatabases } from './support/databases.js';
import {
  TEST_ADMIN_TOKEN,
  createTestUser,
  startTestGateway,
  startTestResolver,
} from './support/gateway.js';
import {
  createRawClient,
  envelopeProblem,
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
import {
  ChangeTracker,
  diffSnapshots,
  monitoredDatabases,
  seedTenants,
  snapshotCollections,
  startAwaitingRun,
  templateNamePattern,
  TENANT_PASSWORD,
  type CaseChanges,
  type CollectionDiff,
  type Snapshot,
  type TenantWorld,
} from './support/tenant-world.js';

/**
 * Property-based tests over every operation of the OpenAPI document, and a fuzzer for zip
 * submissions. Whatever a client sends: never a 5xx; every 4xx in the documented envelope; and a
 * refused request changes nothing (the database as it was, no job left behind).
 *
 * PROPERTY_RUNS sets the cases per operation (default 1,000, what CI runs), ZIP_FUZZ_RUNS the
 * mutated zips (default 1,000), PROPERTY_SEED replays a reported failure.
 */

function countFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const count = Number(raw);
  if (!Number.isInteger(count) || count < 1)
    throw new Error(`${name} must be a positive integer, got '${raw}'`);
  return count;
}

const casesPerRoute = countFromEnv('PROPERTY_RUNS', 1_000);
const zipCases = countFromEnv('ZIP_FUZZ_RUNS', 1_000);
const seed = process.env['PROPERTY_SEED'] ? Number(process.env['PROPERTY_SEED']) : undefined;
const assertOptions = (numRuns: number) => ({ numRuns, ...(seed === undefined ? {} : { seed }) });

const gatewayErrors: string[] = [];
const db = await useTestDatabases('route_properties');
// Every service of the stack writes through this one command-monitored connection.
const monitored = await monitoredDatabases(db);
// Failed authentications are most of what a fuzzer sends; their limiter (tested on its own in
// auth-hardening.test.ts) would soon answer every case 429 and hide the routes behind it.
const gateway = await startTestGateway(monitored.databases, {
  settings: { authFailureLimit: { limit: 0, windowMs: 60_000 } },
  // What the gateway logs as unexpected goes into a failure's message, stack and all.
  logger: pino({ level: 'error' }, { write: (line: string) => void gatewayErrors.push(line) }),
});
await startTestResolver(monitored.databases);
// Notifications are queued but not sent: a delivery finishing in the background would be a write
// no case made (deliveries have their own tests, webhook-delivery.test.ts).
await startTestRunner(monitored.databases, { deliverWebhooks: false });
const tracker = new ChangeTracker(db, [
  gateway.deps.queues.resolve.queue,
  gateway.deps.queues.runCommand.queue,
  gateway.deps.queues.maintenance.queue,
  gateway.deps.queues.deletion.queue,
]);
tracker.observe(monitored.connection);
const operations = await fetchRouteOperations(gateway.url);
const http = createRawClient(gateway.url);
afterAll(() => http.close());

const summary: string[] = [];
const fileStarted = performance.now();
afterAll(() => {
  summary.push(`total: ${((performance.now() - fileStarted) / 1000).toFixed(1)} s`);
  console.log(`route properties\n  ${summary.join('\n  ')}`);
});

let world: TenantWorld;

/**
 * The database as the last accepted request left it, compared cheaply. Sound because every process
 * that writes to this database (gateway, resolver and runner, all in this process) sends its
 * commands through the one monitored connection, and a case is judged only once the jobs it
 * enqueued (and whatever they enqueued) have finished: a collection that no write command named
 * since the case began holds what it held before. Each write command names its collection; one
 * that does not (`null`) makes the whole database be compared. The comparison itself is
 * `snapshotDatabase`'s, collection by collection.
 */
class DatabaseBaseline {
  private snapshot: Snapshot = new Map();

  async reset(): Promise<void> {
    await tracker.settle();
    this.snapshot = await snapshotCollections(db.mongo, 'all');
  }

  /** The differences in the collections `changes` wrote to, and their documents now. */
  async compare(changes: CaseChanges): Promise<{ diffs: CollectionDiff[]; now: Snapshot }> {
    const written = changes.writtenCollections;
    if (written !== null && written.size === 0) return { diffs: [], now: new Map() };
    const now = await snapshotCollections(db.mongo, written ?? 'all');
    const before: Snapshot = new Map(
      [...now.keys(), ...(written ?? this.snapshot.keys())].map((name) => [
        name,
        this.snapshot.get(name) ?? [],
      ]),
    );
    return { diffs: diffSnapshots(before, now), now };
  }

  accept(now: Snapshot): void {
    for (const [name, documents] of now) this.snapshot.set(name, documents);
  }
}

const baseline = new DatabaseBaseline();

beforeAll(async () => {
  world = await seedTenants(gateway);
  await baseline.reset();
}, 180_000);

// ---------------------------------------------------------------------------------------------
// Judging one response.

/** What a run records of a command it refused (docs/runs.md, "Commands and the run's inbox"). */
const bookkeepingOfRefusedCommands = new Set([
  'command_seq',
  'command_accepted_at',
  'applied_command_seq',
  'last_rejection',
  // The drain that refused it held the run's lease meanwhile (docs/runs.md, "One drain per run").
  'lease_holder',
  'lease_expires_at',
  'lease_fence',
]);

function changedFields(before: Record<string, unknown>, after: Record<string, unknown>): string[] {
  return [...new Set([...Object.keys(before), ...Object.keys(after)])].filter(
    (key) => JSON.stringify(before[key]) !== JSON.stringify(after[key]),
  );
}

/**
 * Checks that a refused request left nothing behind. Two refusals are decided by a worker after the gateway accepted the request, and
 * docs/runs.md and docs/workflows.md say what they leave:
 * - a run command the runner refuses (400, 409, 422) stays in `run_commands` as `rejected`, and
 *   the run records that it was considered (the fields below);
 * - a submission the resolver refuses leaves nothing at all; its job completes with the refusal.
 * And `resume` with a workflow resolves it before it can compare it with the run's version, so
 * its resolve job may have succeeded whatever the answer: a version that existed already leaves
 * nothing (its bytes are deleted); a new one stays only with 409 VERSION_MISMATCH, which names it
 * for the client to confirm by id (with its template and stored bytes).
 * Any other job, or any other change, fails the case.
 */
async function expectNothingLeftBehind(response: RawResponse, changes: CaseChanges): Promise<void> {
  const code = parseEnvelope(response).error.code;
  // Taken as the new baseline even when the case fails, so that the cases fast-check replays
  // while shrinking are judged on their own writes.
  const { diffs, now } = await baseline.compare(changes);
  baseline.accept(now);
  const refusedCommands = new Set<string>();
  const keptVersions: VersionSummary[] = [];
  for (const job of changes.jobs) {
    const where = `${job.queue} job ${job.jobId} (${job.state}) ${JSON.stringify(job.returnValue)}`;
    if (job.state !== 'completed') throw new Error(`a ${code} refusal left ${where}`);
    if (job.queue === 'runs') {
      const outcome = commandOutcomeSchema.safeParse(job.returnValue);
      if (
        !outcome.success ||
        outcome.data.status !== 'rejected' ||
        outcome.data.error.code !== code
      )
        throw new Error(`a ${code} refusal enqueued ${where}`);
      refusedCommands.add(job.jobId);
    } else if (job.queue === 'resolve') {
      const result = resolveJobResultSchema.safeParse(job.returnValue);
      if (!result.success) throw new Error(`a ${code} refusal enqueued ${where}`);
      if (result.data.ok) {
        if (result.data.version.created && code === 'VERSION_MISMATCH')
          keptVersions.push(result.data.version);
      } else if (result.data.error.code !== code)
        throw new Error(`a ${code} refusal enqueued ${where}`);
    } else throw new Error(`a ${code} refusal enqueued ${where}`);
  }
  const keptVersionIds = new Set(keptVersions.map((v) => v.workflow_version_id));
  const keptTemplateIds = new Set(keptVersions.map((v) => v.workflow_template_id));
  const keptFileIds = new Set(
    (now.get('workflow_versions') ?? [])
      .map((v) => v as Record<string, unknown>)
      .filter((v) => keptVersionIds.has(String(v['workflow_version_id'])))
      .map((v) => String(v['source_file_id'])),
  );
  const refusedRuns = new Set(
    diffs
      .filter((diff) => diff.collection === 'run_commands')
      .flatMap((diff) => diff.added)
      .filter((command) => refusedCommands.has(String(command['command_id'])))
      .map((command) => String(command['workflow_run_id'])),
  );
  const unexplained = diffs.flatMap((diff) => {
    const problems: string[] = [];
    const describe = (what: string, document: unknown) =>
      problems.push(`${diff.collection}: ${what} ${JSON.stringify(document).slice(0, 400)}`);
    for (const document of diff.added) {
      const explained =
        (diff.collection === 'run_commands' &&
          refusedCommands.has(String(document['command_id'])) &&
          document['status'] === 'rejected') ||
        (diff.collection === 'workflow_versions' &&
          keptVersionIds.has(String(document['workflow_version_id']))) ||
        (diff.collection === 'workflow_templates' &&
          keptTemplateIds.has(String(document['workflow_template_id']))) ||
        (diff.collection === 'submissions.files' && keptFileIds.has(String(document['_id']))) ||
        (diff.collection === 'submissions.chunks' && keptFileIds.has(String(document['files_id'])));
      if (!explained) describe('added', document);
    }
    for (const { before, after } of diff.changed) {
      const fields = changedFields(before, after);
      const explained =
        (diff.collection === 'workflow_runs' &&
          refusedRuns.has(String(after['workflow_run_id'])) &&
          fields.every((field) => bookkeepingOfRefusedCommands.has(field))) ||
        (diff.collection === 'workflow_templates' &&
          keptTemplateIds.has(String(after['workflow_template_id'])));
      if (!explained) describe(`changed (${fields.join(', ')})`, after);
    }
    for (const document of diff.removed) describe('removed', document);
    return problems;
  });
  if (unexplained.length > 0)
    throw new Error(`a ${code} refusal changed the database:\n${unexplained.join('\n')}`);
}

function describeRequest(raw: RawRequest): string {
  const body = raw.body
    ? /^[\t\n\r\x20-\x7e]*$/.test(raw.body.toString('latin1').slice(0, 300))
      ? JSON.stringify(raw.body.toString('latin1').slice(0, 300))
      : `0x${raw.body.subarray(0, 120).toString('hex')}`
    : 'none';
  return [
    `${raw.method} ${raw.path.length > 400 ? `${raw.path.slice(0, 400)}…` : raw.path}`,
    `headers: ${JSON.stringify(raw.headers ?? {})}`,
    `body (${raw.body?.length ?? 0} bytes${raw.chunked ? ', chunked' : ''}): ${body}`,
  ].join('\n');
}

/** Sends one request and checks the properties; returns the response for statistics. */
async function checkCase(raw: RawRequest): Promise<RawResponse> {
  const mark = await tracker.mark();
  const loggedBefore = gatewayErrors.length;
  const response = await http.send(raw);
  const changes = await tracker.since(mark);
  const fail = (why: string): never => {
    const logged = gatewayErrors.slice(loggedBefore).join('').slice(0, 3_000);
    throw new Error(
      `${why}\n${describeRequest(raw)}\nanswer: ${response.status} ${response.body
        .toString('utf8')
        .slice(0, 500)}${logged ? `\ngateway log: ${logged}` : ''}`,
    );
  };
  if (response.status >= 500) fail(`answered ${response.status}`);
  if (typeof response.headers['x-request-id'] !== 'string') fail('no X-Request-Id');
  if (response.status >= 400) {
    const problem = envelopeProblem(response);
    if (problem) fail(`a ${response.status} outside the error envelope: ${problem}`);
    try {
      await expectNothingLeftBehind(response, changes);
    } catch (error) {
      fail((error as Error).message);
    }
  } else {
    baseline.accept((await baseline.compare(changes)).now);
  }
  return response;
}

// ---------------------------------------------------------------------------------------------
// Generators.

/** Every id and name the two tenants own, except the keys the cases authenticate with. */
function knownValues(): string[] {
  const protectedKeys = new Set([world.alice.keyId, world.bob.keyId]);
  return [...world.alice.resources, ...world.bob.resources]
    .map((resource) => resource.value)
    .filter((value) => !protectedKeys.has(value));
}

/** Values that make it past validation to real logic, by field name (responses, step ids…). */
const examplesByName: Record<string, readonly unknown[]> = {
  response: [
    { confirmed: true },
    { confirmed: false },
    { selected_indices: [0] },
    { selected_indices: [99] },
    { value: 'A caption' },
    { values: { duration_s: 10, mood: 'cosy' } },
    null,
  ],
  step_id: ['ideas', 'caption', 'prompt', 'review', 'write', 'approve', 'fail', 'nope'],
  module_name: ['choose_idea', 'write_caption', 'keep', 'ok', 'always', 'nope'],
  restart_at: ['ideas', 'write', 'nope'],
  project_name: ['alice-project', 'bob-project', ' '],
  template: ['pet_clips', 'alice_notes', 'bob_notes', 'nope'],
  status: ['awaiting_input', 'completed', 'running'],
  wait: ['true', 'false'],
  wait_ms: [0, 50, 200],
  // Sign-in and password changes reach their logic only with a tenant's real credentials; the
  // new password is the same one, so later cases can still sign in.
  login: ['alice', 'bob@example.com', 'nobody'],
  password: [TENANT_PASSWORD],
  current_password: [TENANT_PASSWORD],
  new_password: [TENANT_PASSWORD],
  // A public address as an IP literal passes the outbound rules with no DNS lookup.
  url: ['https://93.184.215.14/hooks/fuzz', 'http://127.0.0.1:9/hook', 'https://hooks.invalid/x'],
};

const int32 = { min: -(2 ** 31), max: 2 ** 31 - 1 };

function schemaArbitrary(schema: JsonSchema, name: string, depth = 0): fc.Arbitrary<unknown> {
  const examples = examplesByName[name];
  const plain = plainSchemaArbitrary(schema, depth);
  return examples ? fc.oneof(fc.constantFrom(...examples), plain) : plain;
}

/** Values that a schema (as the document gives it) plausibly accepts; ids from the tenants'. */
function plainSchemaArbitrary(schema: JsonSchema, depth: number): fc.Arbitrary<unknown> {
  if (schema.enum && schema.enum.length > 0) return fc.constantFrom(...schema.enum);
  if (schema.const !== undefined) return fc.constant(schema.const);
  const alternatives = schema.anyOf ?? schema.oneOf;
  if (alternatives && alternatives.length > 0)
    return fc.oneof(...alternatives.map((alternative) => schemaArbitrary(alternative, '', depth)));
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case 'string': {
      if (schema.pattern) {
        const pattern = new RegExp(schema.pattern);
        const owned = knownValues().filter((value) => pattern.test(value));
        const fresh = fc.stringMatching(pattern);
        return owned.length > 0 ? fc.oneof(fc.constantFrom(...owned), fresh) : fresh;
      }
      const maxLength = Math.min(schema.maxLength ?? 40, 40);
      return fc.string({ minLength: Math.min(schema.minLength ?? 0, maxLength), maxLength });
    }
    case 'integer':
    case 'number':
      return fc.integer({
        min: Math.max(schema.minimum ?? -1000, int32.min),
        max: Math.min(schema.maximum ?? 1000, int32.max),
      });
    case 'boolean':
      return fc.boolean();
    case 'array':
      return depth > 3
        ? fc.constant([])
        : fc.array(schemaArbitrary(schema.items ?? {}, '', depth + 1), { maxLength: 3 });
    case 'object': {
      if (depth > 3) return fc.constant({});
      const properties = schema.properties ?? {};
      return fc.record(
        Object.fromEntries(
          Object.entries(properties).map(([key, property]) => [
            key,
            schemaArbitrary(property, key, depth + 1),
          ]),
        ),
        { requiredKeys: (schema.required ?? []).filter((key) => key in properties) },
      );
    }
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

interface PathValue {
  value: string;
  /** Put into the request line as written, not percent-encoded. */
  raw: boolean;
}

/** Segments that exercise the router's decoding: traversal, bad escapes, NUL, empty. */
const rawSegments = [
  '',
  '.',
  '..',
  '%2e%2e',
  '..%2F..%2Fv1%2Fme',
  '%2F',
  '%00',
  '%',
  '%zz',
  '%E0%A4%A',
  '%C0%AF',
  '%FF%FE',
  '..;',
  '*',
  '%20',
  '__proto__',
  'constructor',
];

/**
 * Users the fuzzer may delete: deleting alice or bob would leave every later route answering 401
 * to their keys, so `DELETE /v1/admin/users/{user_id}` gets a user of its own instead of theirs.
 */
let deletableUserId = '';

function pathValueArbitrary(
  operation: RouteOperation,
  parameter: RouteParameter,
): fc.Arbitrary<PathValue> {
  const pattern = parameter.schema.pattern ? new RegExp(parameter.schema.pattern) : null;
  const tenants = new Set([world.alice.userId, world.bob.userId]);
  const deletesUsers =
    operation.method === 'delete' && operation.path.startsWith('/v1/admin/users/');
  const pool = deletesUsers
    ? [...knownValues().filter((value) => !tenants.has(value)), deletableUserId]
    : knownValues();
  const fitting = pattern ? pool.filter((value) => pattern.test(value)) : pool;
  const others = pattern ? pool.filter((value) => !pattern.test(value)) : [];
  const encoded: fc.WeightedArbitrary<string>[] = [
    { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
    { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }) },
    { weight: 1, arbitrary: fc.string({ minLength: 256, maxLength: 2_000 }) },
  ];
  if (fitting.length > 0) {
    encoded.push({ weight: 6, arbitrary: fc.constantFrom(...fitting) });
    encoded.push({
      weight: 1,
      arbitrary: fc
        .tuple(fc.constantFrom(...fitting), fc.constantFrom('\u0000', '/..', ' ', 'x', '\n', 'é'))
        .map(([id, suffix]) => `${id}${suffix}`),
    });
  }
  if (pattern) encoded.push({ weight: 2, arbitrary: fc.stringMatching(pattern) });
  if (others.length > 0) encoded.push({ weight: 1, arbitrary: fc.constantFrom(...others) });
  return fc.oneof(
    { weight: 12, arbitrary: fc.oneof(...encoded).map((value) => ({ value, raw: false })) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(...rawSegments).map((value) => ({ value, raw: true })),
    },
  );
}

const oddQueryKeys = [
  'foo',
  '__proto__',
  'constructor',
  'hasOwnProperty',
  'wait_ms[]',
  'limit[$gt]',
  'a.b',
  '',
  'WAIT_MS',
];

const oddNumbers = [
  '-1',
  '0',
  '1',
  '30001',
  '1e309',
  '-1e309',
  '99999999999999999999',
  '9007199254740993',
  'NaN',
  'Infinity',
  '-0',
  '0x10',
  '1.5',
  ' 5',
  '+5',
  'true',
  'null',
  '[]',
  '',
];

function queryValueArbitrary(parameter: RouteParameter | null): fc.Arbitrary<string> {
  const odd: fc.WeightedArbitrary<string>[] = [
    { weight: 2, arbitrary: fc.constantFrom(...oddNumbers) },
    { weight: 1, arbitrary: fc.string({ maxLength: 30 }) },
    { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 10 }) },
    { weight: 1, arbitrary: fc.string({ minLength: 200, maxLength: 2_000 }) },
  ];
  if (!parameter) return fc.oneof(...odd);
  const valid = schemaArbitrary(parameter.schema, parameter.name).map((value) =>
    typeof value === 'string' ? value : JSON.stringify(value),
  );
  return fc.oneof({ weight: 5, arbitrary: valid }, ...odd);
}

function queryArbitrary(operation: RouteOperation): fc.Arbitrary<string> {
  const known = operation.queryParameters;
  const pairs: fc.WeightedArbitrary<[string, string]>[] = [
    {
      weight: 1,
      arbitrary: fc.tuple(
        fc.oneof(fc.constantFrom(...oddQueryKeys), fc.string({ maxLength: 12 })),
        queryValueArbitrary(null),
      ),
    },
  ];
  if (known.length > 0)
    pairs.push({
      weight: 6,
      arbitrary: fc
        .constantFrom(...known)
        .chain((parameter) =>
          fc.tuple(fc.constant(parameter.name), queryValueArbitrary(parameter)),
        ),
    });
  const tails = fc.oneof(
    { weight: 12, arbitrary: fc.constant('') },
    { weight: 1, arbitrary: fc.constantFrom('&', '=', '%', '%zz=1', 'a=%E0%A4%A', '?', '&&x') },
  );
  const entries = fc.oneof(
    { weight: known.length > 0 ? 1 : 2, arbitrary: fc.constant([]) },
    { weight: 1, arbitrary: fc.array(fc.oneof(...pairs), { minLength: 1, maxLength: 4 }) },
  );
  return fc.tuple(entries, tails).map(([pairsChosen, tail]) => {
    const query = [
      ...pairsChosen.map(
        ([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(value)}`,
      ),
      ...(tail ? [tail] : []),
    ].join('&');
    return query === '' ? '' : `?${query}`;
  });
}

interface BodyCase {
  bytes: Buffer | null;
  contentType: string | null;
  contentEncoding: string | null;
  chunked: boolean;
}

const deepJson = fc
  .tuple(fc.integer({ min: 50, max: 10_000 }), fc.boolean())
  .map(([depth, arrays]) =>
    arrays
      ? `${'['.repeat(depth)}${']'.repeat(depth)}`
      : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`,
  );

const notJson = fc.oneof(
  fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes)),
  fc
    .constantFrom(
      '{',
      '{"a":',
      'nul',
      '\ufeff{}',
      "{'a':1}",
      '[1,]',
      'NaN',
      '{"a":1}{"b":2}',
      '{"__proto__":{"polluted":true}}',
      '{"constructor":{"prototype":{"polluted":true}}}',
      '"just a string"',
      '1e999',
    )
    .map((text) => Buffer.from(text)),
);

const randomJson = fc.jsonValue({ maxDepth: 4 }).map((value) => Buffer.from(JSON.stringify(value)));

/** A JSON object whose known fields hold the wrong types (and sometimes extra fields). */
function wrongTypes(schema: JsonSchema): fc.Arbitrary<Buffer> {
  const names = Object.keys(schema.properties ?? {});
  if (names.length === 0) return randomJson;
  return fc
    .dictionary(fc.constantFrom(...names, 'extra', '__proto__'), fc.jsonValue({ maxDepth: 2 }), {
      maxKeys: names.length + 1,
    })
    .map((value) => Buffer.from(JSON.stringify(value)));
}

/** A plausible body with one field swapped for deep nesting or a huge string (within the limit). */
function oversizedField(schema: JsonSchema): fc.Arbitrary<Buffer> {
  const names = Object.keys(schema.properties ?? {});
  const field = names.length > 0 ? fc.constantFrom(...names) : fc.constant('extra');
  const filler = fc.oneof(
    deepJson,
    fc.integer({ min: 1_000, max: 60_000 }).map((length) => JSON.stringify('x'.repeat(length))),
  );
  return fc.tuple(schemaArbitrary(schema, 'body'), field, filler).map(([value, name, text]) => {
    const base = typeof value === 'object' && value !== null && !Array.isArray(value) ? value : {};
    const json = JSON.stringify({ ...base, [name]: '@@filler@@' });
    return Buffer.from(json.replace('"@@filler@@"', text));
  });
}

const oddContentTypes = [
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/json; charset=utf-16',
  'application/json; charset=latin-9000',
  'application/JSON',
  'application/json;;',
  '*/*',
  'application/zip',
  'application/octet-stream',
  'application/merge-patch+json',
  'application/json; charset="utf-8"',
  'application/x-zip-compressed; foo=bar',
  '',
];

function bodyArbitrary(operation: RouteOperation): fc.Arbitrary<BodyCase> {
  const tenantWorkflow = Buffer.from(JSON.stringify(world.alice.workflowJson));
  let payload: fc.Arbitrary<{ bytes: Buffer | null; type: string | null }>;
  const json = (arbitrary: fc.Arbitrary<Buffer>) =>
    arbitrary.map((bytes) => ({ bytes, type: 'application/json' }));
  if (takesUpload(operation)) {
    const zipType = fc.constantFrom(
      ...operation.bodyMediaTypes.filter((type) => type !== 'application/json'),
    );
    const freshWorkflow = fc
      .stringMatching(new RegExp(templateNamePattern))
      .map((name) =>
        Buffer.from(JSON.stringify({ ...world.alice.workflowJson, workflow_id: name })),
      );
    // An import takes a run archive, not a workflow: alice's exported run, whole or with a byte
    // changed, lets the cases reach the import's own checks and writes.
    const archives = operation.path.endsWith('/runs/import')
      ? [
          {
            weight: 3,
            arbitrary: zipType.map((type) => ({ bytes: aliceRunArchive, type })),
          },
          {
            weight: 2,
            arbitrary: fc
              .tuple(fc.nat({ max: Math.max(0, aliceRunArchive.length - 1) }), fc.nat(255), zipType)
              .map(([at, value, type]) => {
                const bytes = Buffer.from(aliceRunArchive);
                bytes[at] = value;
                return { bytes, type };
              }),
          },
        ]
      : [];
    payload = fc.oneof(
      ...archives,
      { weight: 2, arbitrary: json(fc.constant(tenantWorkflow)) },
      { weight: 1, arbitrary: json(freshWorkflow) },
      {
        weight: 1,
        arbitrary: fc
          .tuple(fc.constant(null), zipType)
          .map(([, type]) => ({ bytes: petClipsZip, type })),
      },
      { weight: 2, arbitrary: json(randomJson) },
      { weight: 1, arbitrary: json(deepJson.map((text) => Buffer.from(text))) },
      { weight: 1, arbitrary: json(notJson) },
      {
        weight: 1,
        arbitrary: fc.tuple(notJson, zipType).map(([bytes, type]) => ({ bytes, type })),
      },
      { weight: 1, arbitrary: fc.constant({ bytes: null, type: null }) },
    );
  } else if (operation.jsonBodySchema) {
    const schema = operation.jsonBodySchema;
    payload = fc.oneof(
      {
        weight: 4,
        arbitrary: json(
          schemaArbitrary(schema, 'body').map((value) => Buffer.from(JSON.stringify(value))),
        ),
      },
      { weight: 2, arbitrary: json(wrongTypes(schema)) },
      { weight: 2, arbitrary: json(randomJson) },
      { weight: 1, arbitrary: json(oversizedField(schema)) },
      { weight: 1, arbitrary: json(notJson) },
      { weight: 1, arbitrary: fc.constant({ bytes: null, type: null }) },
    );
  } else {
    payload = fc.oneof(
      { weight: 8, arbitrary: fc.constant({ bytes: null, type: null }) },
      { weight: 1, arbitrary: json(fc.constant(Buffer.from('{}'))) },
      { weight: 1, arbitrary: json(randomJson) },
      { weight: 1, arbitrary: json(notJson) },
    );
  }
  const contentType = (natural: string | null) =>
    fc.oneof(
      { weight: 8, arbitrary: fc.constant(natural) },
      { weight: 1, arbitrary: fc.constantFrom(...oddContentTypes) },
      { weight: 1, arbitrary: fc.constant(null) },
    );
  const encoding = fc.oneof(
    { weight: 12, arbitrary: fc.constant<'gzip' | 'raw' | null>(null) },
    { weight: 1, arbitrary: fc.constant<'gzip' | 'raw' | null>('gzip') },
    { weight: 1, arbitrary: fc.constant<'gzip' | 'raw' | null>('raw') },
  );
  return fc
    .tuple(
      payload.chain((p) => fc.tuple(fc.constant(p.bytes), contentType(p.type))),
      encoding,
      fc.constantFrom('gzip', 'br', 'deflate', 'identity', 'x-custom'),
      fc.oneof(
        { weight: 6, arbitrary: fc.constant(false) },
        { weight: 1, arbitrary: fc.constant(true) },
      ),
    )
    .map(([[bytes, type], mode, declared, chunked]) => ({
      bytes: bytes && mode === 'gzip' ? gzipSync(bytes) : bytes,
      contentType: type,
      contentEncoding: mode === 'gzip' ? 'gzip' : mode === 'raw' ? declared : null,
      chunked,
    }));
}

function authorizationArbitrary(operation: RouteOperation): fc.Arbitrary<string | null> {
  const { alice, bob } = world;
  return fc.oneof(
    {
      weight: operation.auth === 'admin' ? 2 : 7,
      arbitrary: fc.constant(`Bearer ${alice.apiKey}`),
    },
    { weight: 2, arbitrary: fc.constant(`Bearer ${bob.apiKey}`) },
    {
      weight: operation.auth === 'admin' ? 7 : 1,
      arbitrary: fc.constant(`Bearer ${TEST_ADMIN_TOKEN}`),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        null,
        'Bearer',
        'Bearer ',
        'Basic dXNlcjpwYXNz',
        `bearer ${alice.apiKey}`,
        `Bearer  ${alice.apiKey}  `,
        `Bearer ${alice.apiKey} extra`,
        `Bearer ${alice.apiKey}x`,
        `Bearer ${alice.revokedApiKey}`,
        `Token ${alice.apiKey}`,
        `Bearer ${TEST_ADMIN_TOKEN.slice(0, -1)}`,
        `Bearer sk_${'0'.repeat(64)}`,
        `Bearer ${'a'.repeat(4_000)}`,
      ),
    },
    { weight: 1, arbitrary: fc.string({ maxLength: 80 }).map((text) => `Bearer ${text}`) },
  );
}

const optionalHeader = (values: fc.Arbitrary<string>) =>
  fc.oneof({ weight: 4, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: values });

function requestArbitrary(operation: RouteOperation): fc.Arbitrary<RawRequest> {
  return fc
    .record({
      path: fc.tuple(
        ...operation.pathParameters.map((parameter) => pathValueArbitrary(operation, parameter)),
      ),
      query: queryArbitrary(operation),
      body: bodyArbitrary(operation),
      authorization: authorizationArbitrary(operation),
      lastEventId: optionalHeader(
        fc.oneof(
          fc.constantFrom('0', '1', '3', '-1', '99999999999999999999', 'abc', '1e3', '', ' 5'),
          fc.string({ maxLength: 40 }),
        ),
      ),
      requestId: optionalHeader(
        fc.oneof(fc.string({ maxLength: 200 }), fc.constantFrom('client-1', 'a b', '')),
      ),
      correlationId: optionalHeader(fc.string({ maxLength: 200 })),
      ifNoneMatch: optionalHeader(fc.constantFrom('*', '"abc"', 'W/"x"', '', ',,,')),
    })
    .map(({ path, query, body, authorization, ...extra }) => {
      const values: Record<string, string> = {};
      const raw = new Set<string>();
      operation.pathParameters.forEach((parameter, index) => {
        const value = path[index];
        if (!value) return;
        values[parameter.name] = value.value;
        if (value.raw) raw.add(parameter.name);
      });
      const headers: Record<string, string> = {};
      if (authorization !== null) headers['authorization'] = authorization;
      if (body.contentType !== null) headers['content-type'] = body.contentType;
      if (body.contentEncoding !== null) headers['content-encoding'] = body.contentEncoding;
      if (extra.lastEventId !== null) headers['last-event-id'] = extra.lastEventId;
      if (extra.requestId !== null) headers['x-request-id'] = extra.requestId;
      if (extra.correlationId !== null) headers['x-correlation-id'] = extra.correlationId;
      if (extra.ifNoneMatch !== null) headers['if-none-match'] = extra.ifNoneMatch;
      const request: RawRequest = {
        method: operation.method.toUpperCase(),
        path: `${fillPath(operation, values, { raw })}${query}`,
        headers,
        ...(body.bytes ? { body: body.bytes, chunked: body.chunked } : {}),
      };
      // fast-check prints counterexamples with this: readable, and short however big the body.
      return Object.assign(request, { [fc.toStringMethod]: () => describeRequest(request) });
    });
}

let petClipsZip: Buffer = Buffer.alloc(0);
/** One of alice's runs as `GET /v1/runs/{id}/export` gives it: the body of run imports. */
let aliceRunArchive: Buffer = Buffer.alloc(0);

/** Statuses that mean validation or authentication turned the request away before any logic. */
const gatekeeperStatuses = new Set([400, 401, 403, 413, 415]);

/** Before each operation: alice keeps a run awaiting input (earlier cases may have moved hers on). */
async function keepARunAwaitingInput(): Promise<void> {
  const waiting = await world.alice.client.request('/v1/runs?status=awaiting_input&limit=1');
  const page = (await waiting.json()) as { items: unknown[] };
  if (page.items.length === 0) await startAwaitingRun(world.alice);
  await baseline.reset();
}

describe('every operation of the OpenAPI document, under random and malformed input', () => {
  beforeAll(async () => {
    petClipsZip = await exampleBundle();
    deletableUserId = (await createTestUser(gateway, 'dora')).user.user_id;
    const runs = await world.alice.client.request('/v1/runs?status=awaiting_input&limit=1');
    const [run] = ((await runs.json()) as { items: { workflow_run_id: string }[] }).items;
    const exported = await world.alice.client.request(`/v1/runs/${run?.workflow_run_id}/export`);
    expect(exported.status).toBe(200);
    aliceRunArchive = Buffer.from(await exported.arrayBuffer());
  });

  it('documents the operations this file fuzzes', () => {
    expect(operations.length).toBeGreaterThan(20);
    expect(operations.map((o) => o.key)).toContain('get /v1/runs/{id}/stream');
  });

  it.each(operations.map((operation) => [operation.key, operation] as const))(
    '%s: never a 5xx; every 4xx in the envelope, changing nothing',
    async (_key, operation) => {
      await keepARunAwaitingInput();
      const started = performance.now();
      const statuses = new Map<number, number>();
      await fc.assert(
        fc.asyncProperty(requestArbitrary(operation), async (raw) => {
          const response = await checkCase(raw);
          statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
        }),
        assertOptions(casesPerRoute),
      );
      const histogram = [...statuses.entries()]
        .sort(([a], [b]) => a - b)
        .map(([status, count]) => `${status}×${count}`)
        .join(' ');
      summary.push(
        `${operation.key}: ${casesPerRoute} cases in ${((performance.now() - started) / 1000).toFixed(1)} s (${histogram})`,
      );
      // The generators must reach the route's own logic, not only its gatekeepers (judged at the
      // default number of cases; a quick local run with a handful may not get there by chance).
      const reached = [...statuses.keys()].filter((status) => !gatekeeperStatuses.has(status));
      if (casesPerRoute >= 200) expect(reached, histogram).not.toEqual([]);
    },
    600_000,
  );
});

// ---------------------------------------------------------------------------------------------
// Zip fuzzing.

interface ZipEntry {
  name: Buffer;
  versionMadeBy: number;
  versionNeeded: number;
  flags: number;
  method: number;
  time: number;
  date: number;
  crc: number;
  compressedSize: number;
  uncompressedSize: number;
  extra: Buffer;
  comment: Buffer;
  internalAttributes: number;
  externalAttributes: number;
  data: Buffer;
}

interface ZipLayout {
  localHeaders: number[];
  centralHeaders: number[];
  endOfCentralDirectory: number;
}

const endOfCentralDirectorySignature = Buffer.from([0x50, 0x4b, 0x05, 0x06]);

/** The entries of a well-formed zip (as JSZip writes them), read through its central directory. */
function parseZip(bytes: Buffer): ZipEntry[] {
  const end = bytes.lastIndexOf(endOfCentralDirectorySignature);
  const count = bytes.readUInt16LE(end + 10);
  let offset = bytes.readUInt32LE(end + 16);
  const entries: ZipEntry[] = [];
  for (let index = 0; index < count; index++) {
    const nameLength = bytes.readUInt16LE(offset + 28);
    const extraLength = bytes.readUInt16LE(offset + 30);
    const commentLength = bytes.readUInt16LE(offset + 32);
    const local = bytes.readUInt32LE(offset + 42);
    const dataStart = local + 30 + bytes.readUInt16LE(local + 26) + bytes.readUInt16LE(local + 28);
    const compressedSize = bytes.readUInt32LE(offset + 20);
    const name = offset + 46;
    entries.push({
      versionMadeBy: bytes.readUInt16LE(offset + 4),
      versionNeeded: bytes.readUInt16LE(offset + 6),
      flags: bytes.readUInt16LE(offset + 8),
      method: bytes.readUInt16LE(offset + 10),
      time: bytes.readUInt16LE(offset + 12),
      date: bytes.readUInt16LE(offset + 14),
      crc: bytes.readUInt32LE(offset + 16),
      compressedSize,
      uncompressedSize: bytes.readUInt32LE(offset + 24),
      name: Buffer.from(bytes.subarray(name, name + nameLength)),
      extra: Buffer.from(bytes.subarray(name + nameLength, name + nameLength + extraLength)),
      comment: Buffer.from(
        bytes.subarray(
          name + nameLength + extraLength,
          name + nameLength + extraLength + commentLength,
        ),
      ),
      internalAttributes: bytes.readUInt16LE(offset + 36),
      externalAttributes: bytes.readUInt32LE(offset + 38),
      data: Buffer.from(bytes.subarray(dataStart, dataStart + compressedSize)),
    });
    offset += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

/** Writes entries as given (duplicates and all), and where each header landed. */
function writeZip(entries: readonly ZipEntry[]): { bytes: Buffer; layout: ZipLayout } {
  const parts: Buffer[] = [];
  const localHeaders: number[] = [];
  let offset = 0;
  for (const entry of entries) {
    const header = Buffer.alloc(30);
    header.writeUInt32LE(0x04034b50, 0);
    header.writeUInt16LE(entry.versionNeeded, 4);
    header.writeUInt16LE(entry.flags, 6);
    header.writeUInt16LE(entry.method, 8);
    header.writeUInt16LE(entry.time, 10);
    header.writeUInt16LE(entry.date, 12);
    header.writeUInt32LE(entry.crc, 14);
    header.writeUInt32LE(entry.compressedSize, 18);
    header.writeUInt32LE(entry.uncompressedSize, 22);
    header.writeUInt16LE(entry.name.length, 26);
    header.writeUInt16LE(0, 28);
    localHeaders.push(offset);
    parts.push(header, entry.name, entry.data);
    offset += header.length + entry.name.length + entry.data.length;
  }
  const centralStart = offset;
  const centralHeaders: number[] = [];
  entries.forEach((entry, index) => {
    const header = Buffer.alloc(46);
    header.writeUInt32LE(0x02014b50, 0);
    header.writeUInt16LE(entry.versionMadeBy, 4);
    header.writeUInt16LE(entry.versionNeeded, 6);
    header.writeUInt16LE(entry.flags, 8);
    header.writeUInt16LE(entry.method, 10);
    header.writeUInt16LE(entry.time, 12);
    header.writeUInt16LE(entry.date, 14);
    header.writeUInt32LE(entry.crc, 16);
    header.writeUInt32LE(entry.compressedSize, 20);
    header.writeUInt32LE(entry.uncompressedSize, 24);
    header.writeUInt16LE(entry.name.length, 28);
    header.writeUInt16LE(entry.extra.length, 30);
    header.writeUInt16LE(entry.comment.length, 32);
    header.writeUInt16LE(0, 34);
    header.writeUInt16LE(entry.internalAttributes, 36);
    header.writeUInt32LE(entry.externalAttributes >>> 0, 38);
    header.writeUInt32LE(localHeaders[index] ?? 0, 42);
    centralHeaders.push(offset);
    parts.push(header, entry.name, entry.extra, entry.comment);
    offset += header.length + entry.name.length + entry.extra.length + entry.comment.length;
  });
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length & 0xffff, 8);
  end.writeUInt16LE(entries.length & 0xffff, 10);
  end.writeUInt32LE(offset - centralStart, 12);
  end.writeUInt32LE(centralStart, 16);
  parts.push(end);
  return {
    bytes: Buffer.concat(parts),
    layout: { localHeaders, centralHeaders, endOfCentralDirectory: offset },
  };
}

function storedEntry(
  template: ZipEntry,
  name: Buffer,
  content: Buffer,
  deflate: boolean,
): ZipEntry {
  const data = deflate ? deflateRawSync(content) : content;
  return {
    ...template,
    name,
    flags: /[^\x20-\x7e]/.test(name.toString('latin1')) ? template.flags | 0x0800 : template.flags,
    method: deflate ? 8 : 0,
    crc: crc32(content) >>> 0,
    compressedSize: data.length,
    uncompressedSize: content.length,
    data,
  };
}

const hostileNames = [
  '../evil.json',
  '/etc/passwd',
  'a\\b.json',
  'C:/evil.json',
  'workflow.json',
  'steps/ideas.json',
  'steps/choose.json',
  '',
  '/',
  'dir/',
  '__MACOSX/workflow.json',
  '.DS_Store',
  'wörk/ﬂow.json',
  'x'.repeat(300),
  'steps/../workflow.json',
  './workflow.json',
  'a\u0000b.json',
  'prompts/video.liquid',
  'pet-clips/workflow.json',
];

const hostileContent = fc.oneof(
  fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes)),
  fc.jsonValue({ maxDepth: 3 }).map((value) => Buffer.from(JSON.stringify(value))),
  deepJson.map((text) => Buffer.from(text)),
  fc
    .constantFrom(
      '{',
      '\ufeff{}',
      '{"$ref": "../../etc/passwd"}',
      '{"$ref": "workflow.json"}',
      '{"workflow_id": 7, "steps": []}',
      '{"workflow_id": "x", "steps": [{"$ref": "steps/ideas.json#/nope"}]}',
      'null',
      '',
      '{{ state.x | nope }}',
    )
    .map((text) => Buffer.from(text)),
  fc.constant(Buffer.from([0xc3, 0x28, 0xa0, 0xa1, 0xff])),
);

type EntryMutation = (entries: ZipEntry[]) => ZipEntry[];

/** fast-check prints a counterexample's mutations by their names. */
const printedByName = <T extends { name: string }>(mutation: T): T =>
  Object.assign(mutation, { [fc.toStringMethod]: () => mutation.name });

/** Mutations of the archive's entries, applied before it is written. */
const entryMutation: fc.Arbitrary<{ name: string; apply: EntryMutation }> = fc
  .oneof(
    fc.tuple(fc.nat(), fc.boolean(), fc.nat()).map(([index, sameContent, other]) => ({
      name: `duplicate entry ${index}${sameContent ? '' : ` with entry ${other}'s content`}`,
      apply: (entries: ZipEntry[]) => {
        const original = entries[index % entries.length];
        const donor = entries[other % entries.length];
        if (!original || !donor) return entries;
        const copy = sameContent ? { ...original } : { ...donor, name: original.name };
        return [
          ...entries.slice(0, (index % entries.length) + 1),
          copy,
          ...entries.slice((index % entries.length) + 1),
        ];
      },
    })),
    fc
      .tuple(fc.nat(), fc.oneof(fc.constantFrom(...hostileNames), fc.string({ maxLength: 40 })))
      .map(([index, name]) => ({
        name: `rename entry ${index} to ${JSON.stringify(name)}`,
        apply: (entries: ZipEntry[]) =>
          entries.map((entry, i) =>
            i === index % entries.length
              ? { ...entry, name: Buffer.from(name), flags: entry.flags | 0x0800 }
              : entry,
          ),
      })),
    fc.tuple(fc.nat(), hostileContent, fc.boolean()).map(([index, content, deflate]) => ({
      name: `replace entry ${index}'s content with ${JSON.stringify(content.toString('latin1').slice(0, 60))}`,
      apply: (entries: ZipEntry[]) =>
        entries.map((entry, i) =>
          i === index % entries.length ? storedEntry(entry, entry.name, content, deflate) : entry,
        ),
    })),
    fc.tuple(fc.constantFrom(...hostileNames), hostileContent).map(([name, content]) => ({
      name: `add entry ${JSON.stringify(name)}`,
      apply: (entries: ZipEntry[]) => {
        const template = entries[0];
        return template
          ? [...entries, storedEntry(template, Buffer.from(name), content, false)]
          : entries;
      },
    })),
    fc.nat().map((index) => ({
      name: `remove entry ${index}`,
      apply: (entries: ZipEntry[]) => entries.filter((_, i) => i !== index % entries.length),
    })),
    fc.nat().map((index) => ({
      name: `make entry ${index} a symbolic link`,
      apply: (entries: ZipEntry[]) =>
        entries.map((entry, i) =>
          i === index % entries.length
            ? { ...entry, versionMadeBy: (3 << 8) | 20, externalAttributes: (0o120777 << 16) >>> 0 }
            : entry,
        ),
    })),
  )
  .map(printedByName);

type HeaderField = {
  where: 'local' | 'central' | 'end';
  name: string;
  offset: number;
  width: 2 | 4;
};

const headerFields: HeaderField[] = [
  { where: 'local', name: 'signature', offset: 0, width: 4 },
  { where: 'local', name: 'version needed', offset: 4, width: 2 },
  { where: 'local', name: 'flags', offset: 6, width: 2 },
  { where: 'local', name: 'compression method', offset: 8, width: 2 },
  { where: 'local', name: 'crc-32', offset: 14, width: 4 },
  { where: 'local', name: 'compressed size', offset: 18, width: 4 },
  { where: 'local', name: 'uncompressed size', offset: 22, width: 4 },
  { where: 'local', name: 'name length', offset: 26, width: 2 },
  { where: 'local', name: 'extra length', offset: 28, width: 2 },
  { where: 'central', name: 'signature', offset: 0, width: 4 },
  { where: 'central', name: 'version made by', offset: 4, width: 2 },
  { where: 'central', name: 'flags', offset: 8, width: 2 },
  { where: 'central', name: 'compression method', offset: 10, width: 2 },
  { where: 'central', name: 'crc-32', offset: 16, width: 4 },
  { where: 'central', name: 'compressed size', offset: 20, width: 4 },
  { where: 'central', name: 'uncompressed size', offset: 24, width: 4 },
  { where: 'central', name: 'name length', offset: 28, width: 2 },
  { where: 'central', name: 'extra length', offset: 30, width: 2 },
  { where: 'central', name: 'comment length', offset: 32, width: 2 },
  { where: 'central', name: 'external attributes', offset: 38, width: 4 },
  { where: 'central', name: 'local header offset', offset: 42, width: 4 },
  { where: 'end', name: 'disk number', offset: 4, width: 2 },
  { where: 'end', name: 'entries on this disk', offset: 8, width: 2 },
  { where: 'end', name: 'entries', offset: 10, width: 2 },
  { where: 'end', name: 'central directory size', offset: 12, width: 4 },
  { where: 'end', name: 'central directory offset', offset: 16, width: 4 },
  { where: 'end', name: 'comment length', offset: 20, width: 2 },
];

type ByteMutation = (bytes: Buffer, layout: ZipLayout) => Buffer;

/** Mutations of the written bytes: header fields by name, and blind byte edits. */
const byteMutation: fc.Arbitrary<{ name: string; apply: ByteMutation }> = fc
  .oneof(
    fc
      .tuple(
        fc.constantFrom(...headerFields),
        fc.nat(),
        fc.oneof(
          fc.constantFrom(
            'zero',
            'one',
            'max',
            'plus one',
            'minus one',
            'deflate64',
            'bzip2',
            'lzma',
          ),
          fc.nat().map(String),
        ),
      )
      .map(([field, index, value]) => ({
        name: `set ${field.where} ${field.name} of entry ${index} to ${value}`,
        apply: (bytes: Buffer, layout: ZipLayout) => {
          const bases =
            field.where === 'end'
              ? [layout.endOfCentralDirectory]
              : field.where === 'local'
                ? layout.localHeaders
                : layout.centralHeaders;
          const base = bases[index % Math.max(bases.length, 1)];
          const at = (base ?? bytes.length) + field.offset;
          // An earlier mutation may have cut the header away; then there is nothing to set.
          if (at + field.width > bytes.length) return bytes;
          const max = field.width === 2 ? 0xffff : 0xffffffff;
          const current = field.width === 2 ? bytes.readUInt16LE(at) : bytes.readUInt32LE(at);
          const next =
            {
              zero: 0,
              one: 1,
              max,
              'plus one': current + 1,
              'minus one': current - 1,
              deflate64: 9,
              bzip2: 12,
              lzma: 14,
            }[value] ?? Number(value);
          const copy = Buffer.from(bytes);
          const clamped = Math.min(Math.max(next, 0), max);
          if (field.width === 2) copy.writeUInt16LE(clamped, at);
          else copy.writeUInt32LE(clamped, at);
          return copy;
        },
      })),
    fc
      .array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 8 })
      .map((flips) => ({
        name: `flip bytes ${flips.map(([at, mask]) => `${at}^${mask}`).join(', ')}`,
        apply: (bytes: Buffer) => {
          const copy = Buffer.from(bytes);
          for (const [at, mask] of flips) {
            const index = at % copy.length;
            copy[index] = (copy[index] ?? 0) ^ mask;
          }
          return copy;
        },
      })),
    fc.tuple(fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 64 })).map(([at, inserted]) => ({
      name: `insert ${inserted.length} bytes at ${at}`,
      apply: (bytes: Buffer) => {
        const index = at % (bytes.length + 1);
        return Buffer.concat([bytes.subarray(0, index), inserted, bytes.subarray(index)]);
      },
    })),
    fc.tuple(fc.nat(), fc.integer({ min: 1, max: 512 })).map(([at, length]) => ({
      name: `delete ${length} bytes at ${at}`,
      apply: (bytes: Buffer) => {
        const index = at % bytes.length;
        return Buffer.concat([bytes.subarray(0, index), bytes.subarray(index + length)]);
      },
    })),
    fc.nat().map((at) => ({
      name: `truncate at ${at}`,
      apply: (bytes: Buffer) => bytes.subarray(0, at % bytes.length),
    })),
    fc.tuple(fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 32 })).map(([at, noise]) => ({
      name: `overwrite the central directory at ${at} with ${noise.length} random bytes`,
      apply: (bytes: Buffer, layout: ZipLayout) => {
        const start = layout.centralHeaders[0] ?? 0;
        const copy = Buffer.from(bytes);
        const span = Math.max(layout.endOfCentralDirectory + 22 - start, 1);
        Buffer.from(noise).copy(copy, start + (at % span));
        return copy.subarray(0, Math.max(copy.length, bytes.length));
      },
    })),
    fc.constant({
      name: 'append a second end of central directory',
      apply: (bytes: Buffer, layout: ZipLayout) =>
        Buffer.concat([bytes, bytes.subarray(layout.endOfCentralDirectory)]),
    }),
  )
  .map(printedByName);

const zipCase = fc.record({
  base: fc.constantFrom('pet-clips', 'content-pipeline'),
  entryMutations: fc.array(entryMutation, { maxLength: 2 }),
  byteMutations: fc.array(byteMutation, { maxLength: 2 }),
  contentType: fc.constantFrom('application/zip', 'application/x-zip-compressed'),
  entryPoint: fc.oneof(
    { weight: 8, arbitrary: fc.constant(null) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        'workflow.json',
        'steps/ideas.json',
        'nope.json',
        'pet-clips/workflow.json',
        '/workflow.json',
        '../workflow.json',
      ),
    },
  ),
});

describe('mutated zip bundles through POST /v1/workflows and a real resolver', () => {
  it(`${zipCases} mutated bundles: never a 5xx, refusals in the envelope, nothing left behind`, async () => {
    const carol = await createTestUser(gateway, 'carol');
    const bases = new Map(
      await Promise.all(
        ['pet-clips', 'content-pipeline'].map(
          async (name) =>
            [
              name,
              parseZip(
                await zipFiles(readTree(new URL(`../examples/${name}/`, import.meta.url).pathname)),
              ),
            ] as const,
        ),
      ),
    );
    // The unmutated bundles are accepted, so every case starts from something valid.
    for (const entries of bases.values()) {
      const response = await http.send({
        method: 'POST',
        path: '/v1/workflows',
        headers: { authorization: `Bearer ${carol.api_key}`, 'content-type': 'application/zip' },
        body: writeZip(entries).bytes,
      });
      expect(response.status, response.body.toString()).toBe(201);
    }
    await baseline.reset();

    const started = performance.now();
    const statuses = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(zipCase, async (spec) => {
        let entries = (bases.get(spec.base) ?? []).map((entry) => ({ ...entry }));
        for (const mutation of spec.entryMutations) entries = mutation.apply(entries);
        const written = writeZip(entries);
        let bytes = written.bytes;
        for (const mutation of spec.byteMutations) bytes = mutation.apply(bytes, written.layout);
        if (spec.entryMutations.length + spec.byteMutations.length === 0)
          bytes = byteMutationFallback(bytes);
        const raw: RawRequest = {
          method: 'POST',
          path: `/v1/workflows${spec.entryPoint ? `?entry_point=${encodeURIComponent(spec.entryPoint)}` : ''}`,
          headers: { authorization: `Bearer ${carol.api_key}`, 'content-type': spec.contentType },
          body: bytes,
        };
        let response: RawResponse;
        try {
          response = await checkCase(raw);
        } catch (error) {
          const applied = [...spec.entryMutations, ...spec.byteMutations].map((m) => m.name);
          throw new Error(`${(error as Error).message}\nmutations: ${applied.join('; ')}`);
        }
        const outcome =
          response.status >= 400
            ? `${response.status} ${parseEnvelope(response).error.code}`
            : String(response.status);
        statuses.set(outcome, (statuses.get(outcome) ?? 0) + 1);
        if (response.status === 201) {
          // An accepted bundle is a whole version, readable like any other.
          const version = JSON.parse(response.body.toString('utf8')) as VersionSummary;
          const read = await http.send({
            method: 'GET',
            path: `/v1/versions/${version.workflow_version_id}`,
            headers: { authorization: `Bearer ${carol.api_key}` },
          });
          expect(read.status).toBe(200);
        }
      }),
      assertOptions(zipCases),
    );
    const outcomes = [...statuses.entries()].map(([outcome, count]) => `${outcome}×${count}`);
    summary.push(
      `zip fuzzer: ${zipCases} bundles in ${((performance.now() - started) / 1000).toFixed(1)} s (${outcomes.join(', ')})`,
    );
    // The mutations must break bundles in more than one way, or the fuzzer is not fuzzing.
    expect(
      [...statuses.keys()].filter((outcome) => outcome.startsWith('4')).length,
    ).toBeGreaterThan(1);
  }, 600_000);
});

/** A case without mutations would resubmit the base bundle; flip one byte of it instead. */
function byteMutationFallback(bytes: Buffer): Buffer {
  const copy = Buffer.from(bytes);
  copy[copy.length >> 1] = (copy[copy.length >> 1] ?? 0) ^ 0xff;
  return copy;
}
