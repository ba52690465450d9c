import { isDeepStrictEqual } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { Job, type Queue } from 'bullmq';
import mongoose, { type Connection } from 'mongoose';
import { afterAll, expect } from 'vitest';
import { SECRET_NAME_PATTERN, idPattern, type IdKind, type RunView } from '@stepwise/shared';
import { createModels } from '@stepwise/shared/node';
import { exampleBundle, exampleBundleDir, readTree, zipFiles } from './bundles.js';
import type { TestDatabases } from './databases.js';
import { createTestUser, type TestGateway } from './gateway.js';
import { acceptInvitation, type SignedIn } from './people.js';
import { RunsClient } from './runs.js';

/**
 * Two tenants with realistic state, seeded through the real API (gateway, resolver, runner), and
 * the means to tell whether a request changed anything: which collections it wrote and which jobs
 * it enqueued.
 */

/**
 * What an owned value is: an id of a kind, a template's name (which routes take as an id), or the
 * name of a stored secret (a name in the caller's own namespace, like a template's).
 */
export type ResourceKind = IdKind | 'templateName' | 'secretName';

export const templateNamePattern = '^[a-z0-9][a-z0-9_-]{0,63}$';

/** The pattern a kind's values match, as the OpenAPI document spells parameter patterns. */
export function patternOfKind(kind: ResourceKind): string {
  if (kind === 'templateName') return templateNamePattern;
  if (kind === 'secretName') return SECRET_NAME_PATTERN.source;
  return idPattern(kind).source;
}

export interface OwnedResource {
  kind: ResourceKind;
  value: string;
  /** What it is, for failure messages ("run awaiting_input", "revoked key"…). */
  note: string;
}

export interface SeededTenant {
  username: string;
  userId: string;
  apiKey: string;
  /** The key `apiKey` is; a test that revokes keys must leave this one alone. */
  keyId: string;
  /** The secret of a key the tenant revoked (authenticates nobody). */
  revokedApiKey: string;
  projectName: string;
  client: RunsClient;
  resources: OwnedResource[];
  /** A workflow of the tenant's as JSON, e.g. a valid body for uploads. */
  workflowJson: Record<string, unknown>;
  /** The value of the tenant's stored secret: no answer, document or log may ever show it. */
  secretValue: string;
  /** The password the tenant set through an invitation (every tenant is a person too). */
  password: string;
  /** A signed-in session of the tenant: its cookie and CSRF token. */
  session: SignedIn;
}

/** Every tenant's password: the fuzzers use it to get past sign-in into the routes' logic. */
export const TENANT_PASSWORD = 'tenant passphrase 0123';

export interface TenantWorld {
  /** Owns everything: templates with versions, runs in every state, a branch, artifacts, jobs, keys. */
  alice: SeededTenant;
  /** Has its own, smaller world, with other template names. */
  bob: SeededTenant;
}

function notesWorkflow(workflowId: string) {
  return {
    workflow_id: workflowId,
    initial_state: { note: 'remember the milk' },
    steps: [
      {
        step_id: 'write',
        modules: [
          { module_id: 'transform.set', name: 'stamp', inputs: { value: 'v1' } },
          {
            module_id: 'artifact.save',
            name: 'keep',
            inputs: { name: 'notes.txt', content: '{{ state.note }}', kind: 'deliverable' },
          },
        ],
      },
      {
        step_id: 'approve',
        modules: [{ module_id: 'user.confirm', name: 'ok', inputs: { message: 'Keep it?' } }],
      },
    ],
  };
}

function brokenWorkflow(workflowId: string) {
  return {
    workflow_id: workflowId,
    steps: [
      {
        step_id: 'fail',
        modules: [{ module_id: 'test.flaky', name: 'always', inputs: { fail_times: 99 } }],
      },
    ],
  };
}

async function jsonOf<T>(response: Response, what: string, status: number[]): Promise<T> {
  const text = await response.text();
  if (!status.includes(response.status)) throw new Error(`${what}: ${response.status} ${text}`);
  return (text === '' ? {} : JSON.parse(text)) as T;
}

async function submit(
  gateway: TestGateway,
  token: string,
  body: Uint8Array,
  type: string,
  query = '',
) {
  return gateway.request(`/v1/workflows${query}`, {
    method: 'POST',
    token,
    headers: { 'content-type': type },
    body,
  });
}

async function waitForJob(gateway: TestGateway, token: string, jobId: string): Promise<void> {
  for (;;) {
    const view = await jsonOf<{ state: string }>(
      await gateway.request(`/v1/jobs/${jobId}`, { token }),
      'job',
      [200],
    );
    if (view.state === 'completed' || view.state === 'failed') return;
    await sleep(20);
  }
}

async function settledRun(client: RunsClient, runId: string): Promise<RunView> {
  return client.get(runId, '?wait=true&wait_ms=10000');
}

/** Records a run and every run-scoped id it has: branches, some events, its pending interaction. */
async function recordRun(
  tenant: SeededTenant,
  run: RunView,
  state: string,
  extra: OwnedResource[] = [],
): Promise<void> {
  const runId = run.workflow_run_id;
  tenant.resources.push({ kind: 'run', value: runId, note: `run ${state}` });
  const events = await tenant.client.events(runId);
  const first = events[0];
  const last = events.at(-1);
  for (const event of [first, last]) {
    if (event)
      tenant.resources.push({
        kind: 'event',
        value: event.event_id,
        note: `event ${event.seq} of run ${state}`,
      });
  }
  tenant.resources.push({
    kind: 'branch',
    value: run.active_branch_id,
    note: `active branch of run ${state}`,
  });
  if (run.pending_interaction)
    tenant.resources.push({
      kind: 'interaction',
      value: run.pending_interaction.interaction_id,
      note: `pending interaction of run ${state}`,
    });
  tenant.resources.push(...extra);
}

async function createTenant(gateway: TestGateway, username: string): Promise<SeededTenant> {
  const created = await createTestUser(gateway, username);
  const session = await acceptInvitation(gateway, created.user.user_id, TENANT_PASSWORD);
  const tenant: SeededTenant = {
    password: TENANT_PASSWORD,
    session,
    username,
    userId: created.user.user_id,
    apiKey: created.api_key,
    keyId: created.key_id,
    projectName: `${username}-project`,
    client: new RunsClient(gateway, created.api_key),
    resources: [
      { kind: 'user', value: created.user.user_id, note: 'the user' },
      { kind: 'accessKey', value: created.key_id, note: 'the key the tests authenticate with' },
    ],
    workflowJson: notesWorkflow(`${username}_notes`),
    revokedApiKey: '',
    secretValue: `sk-${username}-${created.key_id.slice(-12)}-provider-key`,
  };
  return tenant;
}

async function seedCommon(gateway: TestGateway, tenant: SeededTenant): Promise<void> {
  const { client, apiKey } = tenant;
  const project = { project_name: tenant.projectName };
  const notesResponse = await submit(
    gateway,
    apiKey,
    Buffer.from(JSON.stringify(tenant.workflowJson)),
    'application/json',
  );
  const notes = await jsonOf<{ workflow_version_id: string; workflow_template_id: string }>(
    notesResponse,
    'notes workflow',
    [201],
  );
  tenant.resources.push(
    { kind: 'templateName', value: `${tenant.username}_notes`, note: 'notes template name' },
    { kind: 'template', value: notes.workflow_template_id, note: 'notes template' },
    { kind: 'version', value: notes.workflow_version_id, note: 'notes version' },
  );

  // Awaiting its confirmation, with the artifact it saved on the way.
  const { run: notesRun } = await client.start({
    workflow_version_id: notes.workflow_version_id,
    ...project,
  });
  const waiting = await settledRun(client, notesRun.workflow_run_id);
  expect(waiting.status).toBe('awaiting_input');
  const artifacts = await jsonOf<{ items: { artifact_id: string }[] }>(
    await client.request(`/v1/runs/${waiting.workflow_run_id}/artifacts`),
    'artifacts',
    [200],
  );
  expect(artifacts.items.length).toBeGreaterThan(0);
  await recordRun(
    tenant,
    waiting,
    'notes awaiting_input',
    artifacts.items.map((item) => ({
      kind: 'artifact' as const,
      value: item.artifact_id,
      note: 'artifact of the notes run',
    })),
  );

  // A job that resolved and one that refused its submission.
  for (const [body, note] of [
    [JSON.stringify(tenant.workflowJson), 'completed job'],
    // In shape (else the gateway refuses it before any job): the resolver's catalog refuses it.
    [
      JSON.stringify({
        workflow_id: 'not_valid',
        steps: [{ step_id: 's', modules: [{ module_id: 'user.nothing', name: 'n' }] }],
      }),
      'refused job',
    ],
  ] as const) {
    const accepted = await jsonOf<{ job_id: string }>(
      await submit(gateway, apiKey, Buffer.from(body), 'application/json', '?wait=false'),
      note,
      [202],
    );
    await waitForJob(gateway, apiKey, accepted.job_id);
    tenant.resources.push({ kind: 'job', value: accepted.job_id, note });
  }

  // A webhook subscription that nothing the tests do will fire (its template never runs), to a
  // public address given as an IP literal so that no DNS lookup is needed to accept it.
  const subscription = await jsonOf<{ subscription_id: string }>(
    await client.request('/v1/webhooks', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        url: `https://93.184.215.14/hooks/${tenant.username}`,
        events: ['run.completed'],
        templates: ['never_runs'],
        description: `${tenant.username}'s subscription`,
      }),
    }),
    'webhook subscription',
    [201],
  );
  tenant.resources.push({
    kind: 'webhook',
    value: subscription.subscription_id,
    note: 'webhook subscription',
  });

  // A spare key, and a revoked one.
  for (const note of ['spare key', 'revoked key']) {
    const issued = await jsonOf<{ key_id: string; api_key: string }>(
      await client.request('/v1/me/keys', { method: 'POST' }),
      note,
      [201],
    );
    tenant.resources.push({ kind: 'accessKey', value: issued.key_id, note });
    if (note !== 'revoked key') continue;
    tenant.revokedApiKey = issued.api_key;
    await jsonOf(
      await client.request(`/v1/me/keys/${issued.key_id}`, { method: 'DELETE' }),
      'revoke',
      [204],
    );
  }

  await seedSecretAndDeletion(tenant, notes.workflow_version_id);
}

/** A stored secret, and a run of the notes workflow deleted on request (its deletion kept). */
async function seedSecretAndDeletion(tenant: SeededTenant, notesVersionId: string): Promise<void> {
  const { client } = tenant;
  const secretName = `${tenant.username.toUpperCase()}_LLM_KEY`;
  await jsonOf(
    await client.request(`/v1/me/secrets/${secretName}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ value: tenant.secretValue }),
    }),
    'stored secret',
    [201],
  );
  tenant.resources.push({ kind: 'secretName', value: secretName, note: 'stored secret' });

  const { run } = await client.start({
    workflow_version_id: notesVersionId,
    project_name: tenant.projectName,
  });
  await settledRun(client, run.workflow_run_id);
  const deleted = await jsonOf<{ deletion: { deletion_id: string } }>(
    await client.request(`/v1/runs/${run.workflow_run_id}`, { method: 'DELETE' }),
    'run deletion',
    [202],
  );
  tenant.resources.push({
    kind: 'deletion',
    value: deleted.deletion.deletion_id,
    note: 'deletion of a run',
  });
}

/** Alice's larger world: the example bundle in two versions, and runs in every state. */
async function seedAlice(gateway: TestGateway, alice: SeededTenant): Promise<void> {
  const { client, apiKey } = alice;
  const project = { project_name: alice.projectName };
  const first = await jsonOf<{ workflow_version_id: string; workflow_template_id: string }>(
    await submit(gateway, apiKey, await exampleBundle(), 'application/zip'),
    'pet clips',
    [201, 200],
  );
  const files = readTree(exampleBundleDir);
  files.set(
    'prompts/video.liquid',
    Buffer.from(`${files.get('prompts/video.liquid')?.toString()}\nSlow motion.\n`),
  );
  const second = await jsonOf<{ workflow_version_id: string }>(
    await submit(gateway, apiKey, await zipFiles(files), 'application/zip'),
    'pet clips v2',
    [201],
  );
  alice.resources.push(
    { kind: 'templateName', value: 'pet_clips', note: 'pet clips template name' },
    { kind: 'template', value: first.workflow_template_id, note: 'pet clips template' },
    { kind: 'version', value: first.workflow_version_id, note: 'pet clips version 1' },
    { kind: 'version', value: second.workflow_version_id, note: 'pet clips version 2' },
  );

  const start = async (versionId: string) =>
    (await client.start({ workflow_version_id: versionId, ...project })).run;

  const awaiting = await start(second.workflow_version_id);
  expect(awaiting.status).toBe('awaiting_input');
  await recordRun(alice, awaiting, 'awaiting_input');

  // Answered once (which records option usage), now waiting for the caption.
  const answered = await start(first.workflow_version_id);
  const answeredInteraction = answered.pending_interaction?.interaction_id ?? '';
  const caption = await client.answerPending(answered, { selected_indices: [0] });
  await recordRun(alice, caption, 'answered once', [
    {
      kind: 'interaction',
      value: answeredInteraction,
      note: 'an interaction already answered',
    },
  ]);

  // Forked at its first event; the new branch is the active one.
  const forked = await start(first.workflow_version_id);
  await client.answerPending(forked, { selected_indices: [1] });
  const forkPoint = (await client.events(forked.workflow_run_id))[0]?.event_id ?? '';
  const branched = await jsonOf<{ branch: { branch_id: string } }>(
    await client.request(`/v1/runs/${forked.workflow_run_id}/branches`, {
      method: 'POST',
      json: { from_event_id: forkPoint },
    }),
    'branch',
    [201],
  );
  const afterFork = await settledRun(client, forked.workflow_run_id);
  await recordRun(alice, afterFork, 'branched', [
    {
      kind: 'branch',
      value: forked.active_branch_id,
      note: 'the branch the fork left',
    },
  ]);
  expect(afterFork.active_branch_id).toBe(branched.branch.branch_id);

  const cancelled = await start(first.workflow_version_id);
  await jsonOf(
    await client.request(`/v1/runs/${cancelled.workflow_run_id}/cancel`, { method: 'POST' }),
    'cancel',
    [200],
  );
  await recordRun(alice, await settledRun(client, cancelled.workflow_run_id), 'cancelled');

  // A migration of hers (of the cancelled run only, so it moves nothing: a finished run is never
  // taken), for the routes that read migrations.
  const migration = await jsonOf<{ migration_id: string }>(
    await client.request('/v1/templates/pet_clips/migrations', {
      method: 'POST',
      json: {
        to_version_id: second.workflow_version_id,
        policy: 'continue_with_new',
        filter: { run_ids: [cancelled.workflow_run_id] },
      },
    }),
    'migration',
    [202],
  );
  alice.resources.push({
    kind: 'migration',
    value: migration.migration_id,
    note: 'migration that took no run',
  });

  // Completed, with an artifact.
  const notesVersion =
    alice.resources.find((r) => r.note === 'notes version')?.value ?? 'missing notes version';
  const toComplete = await start(notesVersion);
  const completed = await client.answerPending(toComplete, { confirmed: true });
  expect(completed.status).toBe('completed');
  const artifacts = await jsonOf<{ items: { artifact_id: string }[] }>(
    await client.request(`/v1/runs/${completed.workflow_run_id}/artifacts`),
    'artifacts',
    [200],
  );
  await recordRun(
    alice,
    completed,
    'completed',
    artifacts.items.map((item) => ({
      kind: 'artifact' as const,
      value: item.artifact_id,
      note: 'artifact of the completed run',
    })),
  );

  const broken = await jsonOf<{ workflow_version_id: string; workflow_template_id: string }>(
    await submit(
      gateway,
      apiKey,
      Buffer.from(JSON.stringify(brokenWorkflow('alice_broken'))),
      'application/json',
    ),
    'broken workflow',
    [201],
  );
  alice.resources.push(
    { kind: 'templateName', value: 'alice_broken', note: 'broken template name' },
    { kind: 'template', value: broken.workflow_template_id, note: 'broken template' },
    { kind: 'version', value: broken.workflow_version_id, note: 'broken version' },
  );
  const failed = await settledRun(
    client,
    (await start(broken.workflow_version_id)).workflow_run_id,
  );
  expect(failed.status).toBe('error');
  await recordRun(alice, failed, 'error');
}

/** Seeds alice (everything) and bob (a smaller world of his own) through the API. */
export async function seedTenants(gateway: TestGateway): Promise<TenantWorld> {
  const alice = await createTenant(gateway, 'alice');
  const bob = await createTenant(gateway, 'bob');
  await seedCommon(gateway, alice);
  await seedAlice(gateway, alice);
  await seedCommon(gateway, bob);
  return { alice, bob };
}

/** Starts one more run of alice's awaiting input, for tests whose requests may have moved hers on. */
export async function startAwaitingRun(tenant: SeededTenant): Promise<OwnedResource[]> {
  const versionId =
    tenant.resources.find((r) => r.note === 'notes version')?.value ?? 'missing notes version';
  const { run } = await tenant.client.start({
    workflow_version_id: versionId,
    project_name: tenant.projectName,
  });
  const settled = await settledRun(tenant.client, run.workflow_run_id);
  const fresh: SeededTenant = { ...tenant, resources: [] };
  await recordRun(fresh, settled, settled.status);
  tenant.resources.push(...fresh.resources);
  return fresh.resources;
}

// ---------------------------------------------------------------------------------------------
// Telling what a request changed.

/** MongoDB commands that only read. Anything else counts as a write (unknown ones included). */
const readCommands = new Set([
  'find',
  'getMore',
  'killCursors',
  'count',
  'distinct',
  'listCollections',
  'listIndexes',
  'ping',
  'hello',
  'isMaster',
  'ismaster',
  'buildInfo',
  'endSessions',
  'saslStart',
  'saslContinue',
  'dbStats',
  'collStats',
  'serverStatus',
]);

/** Every collection, in `snapshotDatabase`'s representation, keyed by collection name. */
export type Snapshot = Map<string, unknown[]>;

/** The documents of `names`, the way `snapshotDatabase` records them (see there). */
export async function snapshotCollections(
  connection: Connection,
  names: Iterable<string> | 'all',
): Promise<Snapshot> {
  const db = connection.db;
  if (!db) throw new Error('connection is not open');
  const wanted =
    names === 'all' ? (await db.listCollections().toArray()).map((c) => c.name) : [...names];
  const snapshot: Snapshot = new Map();
  for (const name of wanted.sort()) {
    const documents = await db.collection(name).find().sort({ _id: 1 }).toArray();
    snapshot.set(
      name,
      documents.map((document) => {
        if (name !== 'access_keys') return document;
        // Authenticating stamps last_used_at (at most once a minute): bookkeeping, not a change.
        const { last_used_at: _ignored, ...rest } = document;
        return rest;
      }),
    );
  }
  return snapshot;
}

export interface CollectionDiff {
  collection: string;
  added: Record<string, unknown>[];
  removed: Record<string, unknown>[];
  changed: { before: Record<string, unknown>; after: Record<string, unknown> }[];
}

function keyed(documents: readonly unknown[]): Map<string, Record<string, unknown>> {
  return new Map(
    documents.map((document) => {
      const record = document as Record<string, unknown>;
      return [String(record['_id']), record];
    }),
  );
}

/** The documents that differ between two snapshots, collection by collection. */
export function diffSnapshots(before: Snapshot, after: Snapshot): CollectionDiff[] {
  const diffs: CollectionDiff[] = [];
  for (const name of new Set([...before.keys(), ...after.keys()])) {
    const old = keyed(before.get(name) ?? []);
    const now = keyed(after.get(name) ?? []);
    const diff: CollectionDiff = { collection: name, added: [], removed: [], changed: [] };
    for (const [id, document] of now) {
      const previous = old.get(id);
      if (!previous) diff.added.push(document);
      else if (!isDeepStrictEqual(previous, document))
        diff.changed.push({ before: previous, after: document });
    }
    for (const [id, document] of old) if (!now.has(id)) diff.removed.push(document);
    if (diff.added.length + diff.removed.length + diff.changed.length > 0) diffs.push(diff);
  }
  return diffs;
}

export interface AddedJob {
  queue: string;
  jobId: string;
  state: string;
  returnValue: unknown;
}

export interface CaseChanges {
  /** Collections some service sent a write command for; `null` when one was not attributable. */
  writtenCollections: Set<string> | null;
  jobs: AddedJob[];
}

interface CaseMark {
  writes: number;
  streams: string[];
}

/**
 * Watches one database and one queue prefix for what a request does: the write commands every
 * service sent (they all share one command-monitored connection) and the jobs added to the queues
 * (the "added" entries BullMQ appends to each queue's event stream).
 */
export class ChangeTracker {
  private readonly writes: (string | null)[] = [];
  private readonly streamKeys: string[];

  constructor(
    private readonly databases: TestDatabases,
    private readonly queues: readonly Queue[],
  ) {
    this.streamKeys = queues.map((queue) => `${queue.opts.prefix}:${queue.name}:events`);
  }

  /** Records the write commands sent on `connection` (opened with `monitorCommands: true`). */
  observe(connection: Connection): void {
    connection.getClient().on('commandStarted', (event) => {
      if (readCommands.has(event.commandName)) return;
      const command = event.command as Record<string, unknown>;
      if (event.commandName === 'aggregate') {
        const pipeline = JSON.stringify(command['pipeline'] ?? []);
        if (!pipeline.includes('"$out"') && !pipeline.includes('"$merge"')) return;
      }
      const target = command[event.commandName];
      this.writes.push(typeof target === 'string' ? target : null);
    });
  }

  async mark(): Promise<CaseMark> {
    const streams = await Promise.all(
      this.streamKeys.map(async (key) => {
        const last = await this.databases.redis.xrevrange(key, '+', '-', 'COUNT', 1);
        return last[0]?.[0] ?? '0-0';
      }),
    );
    return { writes: this.writes.length, streams };
  }

  /**
   * What happened since `mark`, once every job added meanwhile (and anything those jobs queued in
   * turn) has finished, so that the writes of the workers are in.
   */
  async since(mark: CaseMark): Promise<CaseChanges> {
    const added: { queue: Queue; jobId: string }[] = [];
    await Promise.all(
      this.streamKeys.map(async (key, index) => {
        const entries = await this.databases.redis.xrange(key, `(${mark.streams[index]}`, '+');
        const queue = this.queues[index];
        if (!queue) return;
        for (const [, fields] of entries) {
          const record = new Map<string, string>();
          for (let i = 0; i + 1 < fields.length; i += 2)
            record.set(fields[i] ?? '', fields[i + 1] ?? '');
          const jobId = record.get('jobId');
          if (record.get('event') === 'added' && jobId) added.push({ queue, jobId });
        }
      }),
    );
    if (added.length > 0) await this.settle();
    const jobs = await Promise.all(
      added.map(async ({ queue, jobId }) => {
        const job = await Job.fromId(queue, jobId);
        return {
          queue: queue.name,
          jobId,
          state: job ? await job.getState() : 'removed',
          returnValue: job?.returnvalue,
        };
      }),
    );
    const written = this.writes.slice(mark.writes);
    return {
      writtenCollections: written.includes(null)
        ? null
        : new Set(written.filter((name): name is string => name !== null)),
      jobs,
    };
  }

  /** Waits until no queue has a job waiting, running or delayed. */
  async settle(): Promise<void> {
    for (;;) {
      const counts = await Promise.all(
        this.queues.map((queue) =>
          queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'waiting-children'),
        ),
      );
      const pending = counts.reduce(
        (sum, count) => sum + Object.values(count).reduce((a, b) => a + b, 0),
        0,
      );
      if (pending === 0) return;
      await sleep(2);
    }
  }
}

/**
 * The file's databases, but with a connection of their own that reports every command: give the
 * result to the gateway, resolver and runner so that all their writes pass the `ChangeTracker`.
 */
export async function monitoredDatabases(
  databases: TestDatabases,
): Promise<{ databases: TestDatabases; connection: Connection }> {
  const connection = mongoose.createConnection(databases.mongoUrl, {
    bufferCommands: false,
    autoIndex: false,
    autoCreate: false,
    monitorCommands: true,
  });
  await connection.asPromise();
  afterAll(() => connection.close());
  return {
    connection,
    databases: { ...databases, mongo: connection, models: createModels(connection) },
  };
}
