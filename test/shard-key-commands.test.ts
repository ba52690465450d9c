import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { isSharded, shardPlanOf, shardPlans, type ShardPlan } from '@stepwise/shared/node';
import { useTestDatabases } from './support/databases.js';
import { startFakeServices } from './support/fake-services.js';
import { driveFullScenario } from './support/full-scenario.js';
import { startProcessStack, type ProcessStack } from './support/process-stack.js';
import { describeViolation, judge, readCommandLog } from './support/shard-key-check.js';
import { startWebhookReceiver } from './support/webhook-receiver.js';

/**
 * Sharding-ready MongoDB (docs/scaling.md, "MongoDB sharding"): the gateway, resolver and runner
 * run as real processes with MONGO_COMMAND_LOG set, so that every command they send to MongoDB is
 * recorded (the driver's command monitoring); the full API scenario is driven through HTTP; then
 * every query, update, delete and insert on a sharded collection must carry its shard key (or be
 * one of the declared scatter-gather sweeps).
 */
const db = await useTestDatabases('shard_key_commands');
const databaseName = new URL(db.mongoUrl).pathname.slice(1);
const logFile = join(mkdtempSync(join(tmpdir(), 'mongo-commands-')), 'commands.jsonl');
const fake = await startFakeServices();
const receiver = await startWebhookReceiver();

let stack: ProcessStack | null = null;
afterAll(() => stack?.stop(2_000));

const shardedCollections = (Object.entries(shardPlans) as [string, ShardPlan][])
  .filter(([, plan]) => isSharded(plan))
  .map(([name]) => name);

describe('the commands the services send during the full API scenario', () => {
  it('carry the shard key on every sharded collection', async () => {
    stack = await startProcessStack(db, {
      common: { MONGO_COMMAND_LOG: logFile, OUTBOUND_ALLOWED_HOSTS: '127.0.0.1,93.184.215.14' },
      // Small enough that resolved workflows go to GridFS too (the `resolved_workflows` bucket).
      resolver: { MAX_INLINE_RESOLVED_BYTES: '2000' },
      runner: {
        LLM_BASE_URL: `${fake.url}/v1`,
        LLM_API_KEY: 'test-key',
        // The sweeps and the housekeeping run during the scenario, so their commands are seen.
        RUNNER_SWEEP_INTERVAL_MS: '1000',
        RUNNER_STALE_AFTER_MS: '3000',
        KEYWORD_CLEANUP_INTERVAL_MS: '2000',
        ARTIFACT_ORPHAN_GRACE_MS: '60000',
        WEBHOOK_RETRY_BASE_MS: '200',
      },
    });
    await driveFullScenario(stack.gateway, { fake, receiver });
    // One more round of sweeps and housekeeping, then everything stops and the log is complete.
    await sleep(2_500);
    await stack.stop();

    const lines = readCommandLog(logFile).filter((line) => line.databaseName === databaseName);
    const violations: string[] = [];
    const touched = new Set<string>();
    const counts = { routed: 0, 'scatter-gather': 0, unsharded: 0, 'not-checked': 0 };
    for (const line of lines) {
      const verdict = judge(line);
      if (verdict.kind === 'violation') {
        violations.push(describeViolation(line, verdict.problem));
        continue;
      }
      counts[verdict.kind] += 1;
      if (verdict.kind === 'routed' || verdict.kind === 'scatter-gather')
        touched.add(line.collection ?? '');
    }
    const services = new Set(lines.map((line) => line.service));
    process.stdout.write(
      `shard-key check: ${lines.length} commands from ${[...services].join(', ')}: ` +
        `${JSON.stringify(counts)}, ${violations.length} violations\n`,
    );

    expect([...new Set(violations)]).toEqual([]);
    // Nothing needs a multi-document transaction (they would span shards).
    expect(lines.filter((line) => line.inTransaction === true)).toEqual([]);
    expect([...services].sort()).toEqual(['gateway', 'resolver', 'runner']);
    // Not vacuous: many commands on sharded collections were checked, and every sharded
    // collection was read or written by the scenario.
    expect(counts.routed).toBeGreaterThan(500);
    expect(shardedCollections.filter((name) => !touched.has(name))).toEqual([]);
    // And whatever the scenario made has a shard plan: a new collection must be declared.
    const made = (await db.mongo.db?.listCollections().toArray())?.map((c) => c.name) ?? [];
    expect(made.length).toBeGreaterThan(20);
    expect(made.filter((name) => shardPlanOf(name) === undefined)).toEqual([]);
  }, 600_000);
});
