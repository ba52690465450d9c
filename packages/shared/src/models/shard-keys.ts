import { gridFsBuckets } from './index.js';

/**
 * How each collection would be sharded (docs/scaling.md, "MongoDB sharding"): the one source the
 * docs, `scripts/shard-collections.mjs` and the shard-key tests read. Every collection the models
 * or GridFS create is here; a new one without an entry fails `test/shard-keys.test.ts`.
 *
 * The rules the tests hold the code to:
 * - every unique index of a sharded collection begins with its whole shard key (MongoDB refuses to
 *   shard a collection otherwise, and could not enforce the index across shards);
 * - every query, update and delete on a sharded collection has an equality (or `$in`) on its
 *   routing fields (the shard key, or for a compound key its leading field), so mongos sends it to
 *   the shard (or the few shards) holding those documents; every insert carries the shard key;
 * - the exceptions are the few sweeps (and the metrics) below (`scatterGatherQueries`), each named by
 *   the `comment` it sends, so that none can creep in unannounced.
 */

/** Ranged (not hashed) keys: hashed keys cannot back unique indexes, and ours lead with random ids. */
export type ShardKey = Readonly<Record<string, 1>>;

export interface ShardedCollection {
  shardKey: ShardKey;
  /**
   * The fields every query must pin (default: all of the shard key). A prefix of a compound key
   * still sends a query to the chunks of that prefix only.
   */
  routeBy?: readonly string[];
  why: string;
}

export interface UnshardedCollection {
  /** Why it stays on its database's primary shard. */
  unsharded: string;
}

export type ShardPlan = ShardedCollection | UnshardedCollection;

const byOwner = (what: string): ShardedCollection => ({
  shardKey: { user_id: 1 },
  why: `${what} are read and listed by their owner; every request knows who that is (the caller, or the run's owner a job carries)`,
});

const byRun = (what: string): ShardedCollection => ({
  shardKey: { workflow_run_id: 1 },
  why: `${what} belong to one run and are only ever read with it, next to its events`,
});

const gridFsPlans = Object.fromEntries(
  gridFsBuckets.flatMap((bucket) => [
    [
      `${bucket}.files`,
      {
        unsharded:
          'one small metadata document per file, found by _id, filename or metadata.sha256 (no owner); the bytes are in the chunks',
      },
    ],
    [
      `${bucket}.chunks`,
      {
        shardKey: { files_id: 1, n: 1 },
        routeBy: ['files_id'],
        why: "the bytes: GridFS's own unique (files_id, n) index is the key, so a large file can spread over chunks, and every read, write and delete names its file",
      },
    ],
  ]),
) as Record<`${(typeof gridFsBuckets)[number]}.${'files' | 'chunks'}`, ShardPlan>;

export const shardPlans = {
  users: {
    unsharded:
      'one small document per person, unique on three ids (user_id, username, email) that no single shard key can lead',
  },
  access_keys: {
    unsharded:
      'one small document per key, found by the hash of the secret a request presents (before anyone is known)',
  },
  passwords: { unsharded: 'at most one small document per person' },
  invitations: {
    unsharded:
      'few and short-lived, found by the hash of the token in a link (before anyone is known)',
  },
  webhook_subscriptions: {
    unsharded:
      'a bounded number per user (MAX_SUBSCRIPTIONS_PER_USER), read by id by the delivery worker',
  },
  request_keys: {
    unsharded:
      "the lookup from a client's Idempotency-Key (scoped to its user) to the run and command it named: one small document per keyed command, read by that key alone",
  },
  artifact_owners: {
    unsharded:
      'the lookup from an artifact id (what GET /v1/artifacts/{id} has) to its run and owner: one small document per artifact',
  },
  secret_keyring: {
    unsharded: 'one document: the check that proves which master key the secrets are under',
  },
  user_secrets: byOwner("users' secrets (sealed)"),
  user_data_keys: byOwner("users' data keys (wrapped)"),
  user_llm_prices: byOwner("users' LLM price tables"),
  deletions: {
    unsharded:
      'one small receipt per deletion asked for, read by its id (the admin reads a user deletion by id alone)',
  },
  retention_policies: { unsharded: 'at most one small document per user' },
  retention_reports: {
    unsharded:
      'a bounded number per user (the newest RETENTION_REPORTS_KEPT), written only by a retention pass that did something',
  },
  workflow_templates: byOwner('templates'),
  workflow_versions: byOwner('versions'),
  workflow_runs: byOwner('runs'),
  migrations: byOwner('batch migrations'),
  migration_runs: byOwner("a batch migration's runs"),
  webhook_deliveries: byOwner('webhook deliveries'),
  events: byRun('events'),
  branches: byRun('branches'),
  run_commands: byRun('commands'),
  artifacts: byRun("artifacts' metadata"),
  tokens: byRun('provider calls (usage)'),
  keyword_history: {
    shardKey: { workflow_template_id: 1 },
    why: "a template's keywords, read and written per template (and template ids are random)",
  },
  option_usage: {
    shardKey: { workflow_template_id: 1 },
    why: "a template's option usage, read and written per template",
  },
  ...gridFsPlans,
} as const satisfies Record<string, ShardPlan>;

export type CollectionName = keyof typeof shardPlans;

/**
 * Every `_id` is an ObjectId the driver mints (a time, a per-process random value, a counter):
 * unique by construction. MongoDB keeps the `_id` index unique per shard only, which is all it
 * needs to be; no collection sets an `_id` of its own.
 */
export const idUniqueByConstruction =
  'every _id is an ObjectId minted by the driver (time, per-process random value, counter)';

export function isSharded(plan: ShardPlan): plan is ShardedCollection {
  return 'shardKey' in plan;
}

/** The plan of a collection, or undefined for one that has none (a test failure). */
export function shardPlanOf(collection: string): ShardPlan | undefined {
  return (shardPlans as Record<string, ShardPlan>)[collection];
}

/** The fields a query on this collection must pin with an equality or `$in`. */
export function routingFields(plan: ShardedCollection): readonly string[] {
  return plan.routeBy ?? Object.keys(plan.shardKey);
}

/**
 * The queries that may go to every shard: background sweeps and the metrics over all tenants,
 * each running every few seconds at most, bounded by a limit or an index on every shard. Each sends
 * its name as the command's `comment` (`scatterGather(...)`), which is how the command-log test
 * tells them from a query that merely forgot its shard key.
 */
export const scatterGatherQueries = {
  'sweep:stale-commands': {
    collection: 'run_commands',
    why: "the runner's sweep for pending commands no job carries (status, accepted_at)",
  },
  'sweep:stale-runs': {
    collection: 'workflow_runs',
    why: "the runner's sweep for running runs nobody drives (status, updated_at)",
  },
  'sweep:lost-deadlines': {
    collection: 'workflow_runs',
    why: "the runner's sweep for questions whose deadline timer was lost",
  },
  'sweep:stuck-deliveries': {
    collection: 'webhook_deliveries',
    why: "the runner's sweep for webhook deliveries no job carries (status, next_attempt_at)",
  },
  'sweep:orphan-artifacts': {
    collection: 'artifacts',
    why: 'the maintenance job that removes artifacts no committed event refers to (event_id: null)',
  },
  'sweep:previews-in-use': {
    collection: 'artifacts',
    why: 'after removing an orphan: whether any artifact still has its bytes (previews are cached by sha256, across users)',
  },
  'metrics:runs-by-status': {
    collection: 'workflow_runs',
    why: 'GET /metrics: runs by status across all tenants, once per Prometheus scrape (each shard counts its own)',
  },
  'legacy:artifact-without-owner': {
    collection: 'artifacts',
    why: 'GET /v1/artifacts/{id} of an artifact stored before artifact_owners existed (only when the lookup misses); the row is written then',
  },
  'legacy:request-key': {
    collection: 'run_commands',
    why: 'an Idempotency-Key whose command was stored before request_keys existed (only when the old unique index refuses a new command); the claim is written then',
  },
  'secrets:rewrap-data-keys': {
    collection: 'user_data_keys',
    why: 'a master-key rotation at start: the data keys still wrapped under the previous master key (by master_key_id)',
  },
  'deletion:previews-in-use': {
    collection: 'artifacts',
    why: 'a run deletion: whether an artifact outside the deleted runs still has the bytes of a preview (previews are cached by sha256, across users)',
  },
  'sweep:expired-keywords': {
    collection: 'keyword_history',
    why: 'the maintenance job that deletes expired keywords of every template',
  },
} as const satisfies Record<string, { collection: CollectionName; why: string }>;

export type ScatterGatherQuery = keyof typeof scatterGatherQueries;

/** The `comment` a declared scatter-gather query sends. */
export function scatterGather(name: ScatterGatherQuery): string {
  return name;
}

/** The mongosh commands that shard a database's collections as planned (for docs/scaling.md). */
export function shardCollectionCommands(databaseName: string): string[] {
  const lines = [`sh.enableSharding(${JSON.stringify(databaseName)});`];
  for (const [name, plan] of Object.entries(shardPlans) as [CollectionName, ShardPlan][]) {
    const namespace = JSON.stringify(`${databaseName}.${name}`);
    if (isSharded(plan))
      lines.push(`sh.shardCollection(${namespace}, ${JSON.stringify(plan.shardKey)});`);
    else lines.push(`// ${namespace} stays unsharded: ${plan.unsharded}`);
  }
  return lines;
}
