// Engine throughput: many concurrent runs of a workflow of non-interactive modules, end to end
// through real gateway, resolver and runner processes: module completions per second from the
// first POST /v1/runs to the last run completed and its events in the log. Baselines measured in
// the same run on the same Redis and Mongo: BullMQ no-op jobs per second, and insertMany of the
// very event documents the engine wrote, both in bulk (batches of 1,000) and one insertMany per run
// (the engine's own granularity: a run of non-interactive modules commits once). A second shape
// (issue 23) starts all the runs at once from one client, each POST waiting and then following its
// run with `GET ?wait=true`, against the 16-in-flight figure of the same round. Needs MONGO_URL,
// REDIS_URL, a build.
//   node bench/engine.mjs [--quick] [--runs N] [--modules N]
import { randomBytes } from 'node:crypto';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { decodeRunAnnouncement, redisNamespace } from '@stepwise/shared';
import { cpuMeter, startProcessStack } from './support/process-stack.mjs';
import {
  emitResult,
  figure,
  inParallel,
  medianOf,
  option,
  quick,
  round,
  sleep,
} from './support/report.mjs';

const runCount = option('runs', { quick: 60, full: 400 });
const moduleCount = option('modules', { quick: 10, full: 20 });
const runnerConcurrency = 8; // the runner's default RUNNER_CONCURRENCY

// BENCH_MONGO_COMMAND_LOG=<file> has every service log its MongoDB commands there (for counting
// round trips per run; it slows them down, so not for figures).
const stack = await startProcessStack({
  label: 'engine',
  env: process.env.BENCH_MONGO_COMMAND_LOG
    ? { MONGO_COMMAND_LOG: process.env.BENCH_MONGO_COMMAND_LOG }
    : {},
});
const { models, call } = stack;

const modules = Array.from({ length: moduleCount }, (_, i) => ({
  module_id: 'transform.set',
  name: `set_${i}`,
  inputs: { value: `{{ run.project_name }}:${i}` },
  outputs_to_state: { value: `v_${i}` },
}));
const half = Math.ceil(moduleCount / 2);
const version = await call('/v1/workflows', {
  method: 'POST',
  body: JSON.stringify({
    workflow_id: 'engine-bench',
    steps: [
      { step_id: 'first', modules: modules.slice(0, half) },
      { step_id: 'second', modules: modules.slice(half) },
    ],
  }),
});

/** The steady shape: 16 `POST /v1/runs` in flight, each answered at once (`wait_ms=0`). */
async function startInFlight(count, projectPrefix) {
  await inParallel(
    Array.from({ length: count }, (_, i) => i),
    16,
    async (i) => {
      const run = await call('/v1/runs?wait_ms=0', {
        method: 'POST',
        body: JSON.stringify({
          workflow_version_id: version.workflow_version_id,
          project_name: `${projectPrefix}-${i}`,
        }),
      });
      ending.expect(run.workflow_run_id);
    },
  );
}

/**
 * Learns that runs ended the way a client following them would: from the runner's commit
 * announcements on the runs' pub/sub channels (they carry the commit's events), not by polling the
 * store. A poll of the runs collection every 20 ms (what this bench did before issue 23) scans it
 * on the MongoDB stand-in, so the bench's own polling took a growing share of the store's CPU from
 * the engine it measures. A poll once a second still catches an announcement lost on the way.
 */
function followRunEnds() {
  const subscriber = new Redis(process.env.REDIS_URL, { maxRetriesPerRequest: null });
  const channels = `${redisNamespace(stack.queuePrefix)}:run:*`;
  const ended = new Map();
  let expected = new Set();
  let wake = () => undefined;
  subscriber.on('pmessage', (_pattern, channel, message) => {
    const events = decodeRunAnnouncement(message).events ?? [];
    const end = events.find((e) =>
      ['run_completed', 'run_failed', 'run_cancelled'].includes(e.event_type),
    );
    if (!end) return;
    ended.set(channel.slice(channel.lastIndexOf(':') + 1), end.event_type);
    wake();
  });
  return {
    ready: subscriber.psubscribe(channels),
    expect: (runId) => expected.add(runId),
    /** Resolves once every expected run has ended; throws if any did not complete. */
    async allEnded(projectPrefix, count) {
      for (;;) {
        const failed = [...expected].filter(
          (id) => ended.has(id) && ended.get(id) !== 'run_completed',
        );
        if (failed.length > 0) throw new Error(`${failed.length} runs did not complete`);
        if (expected.size === count && [...expected].every((id) => ended.has(id))) break;
        const heard = new Promise((resolve) => (wake = resolve));
        await Promise.race([heard, sleep(1_000)]);
        if (expected.size === count && ![...expected].every((id) => ended.has(id))) {
          // Nothing heard for a while, or a message lost: ask the store once.
          const completed = await models.runs.countDocuments({
            project_name: new RegExp(`^${projectPrefix}-`),
            status: 'completed',
          });
          if (completed === count) break;
        }
      }
      expected = new Set();
    },
    close: () => subscriber.quit(),
  };
}
const ending = followRunEnds();
await ending.ready;

/**
 * The burst shape (issue 23): one client starts every run at once, each POST waiting for its first
 * settlement (the default `wait_ms`), then follows each run with `GET ?wait=true` until it is done.
 */
async function startBurst(count, projectPrefix) {
  await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      let run = await call('/v1/runs', {
        method: 'POST',
        body: JSON.stringify({
          workflow_version_id: version.workflow_version_id,
          project_name: `${projectPrefix}-${i}`,
        }),
      });
      ending.expect(run.workflow_run_id);
      while (run.status === 'running')
        run = await call(`/v1/runs/${run.workflow_run_id}?wait=true`);
      if (run.status !== 'completed')
        throw new Error(`run ${run.workflow_run_id} ended ${run.status}`);
    }),
  );
}

async function runAll(count, projectPrefix, shape = 'in-flight') {
  const started = performance.now();
  if (shape === 'burst') await startBurst(count, projectPrefix);
  else await startInFlight(count, projectPrefix);
  // Ended as announced: the runner announces a commit after its events are in the log, so the
  // round's time includes writing the last ones. engineRound counts them afterwards, untimed:
  // until issue 23 that count ran inside the round, and on the stand-in a count of events over
  // 400 run ids scans the whole events collection, a cost that grew with every round.
  await ending.allEnded(projectPrefix, count);
  return (performance.now() - started) / 1000;
}

await runAll(Math.max(8, Math.floor(runCount / 10)), 'warmup');
await runAll(Math.max(8, Math.floor(runCount / 10)), 'warmupburst', 'burst');

/** One measured round: the runs, then what the engine wrote for them. */
async function engineRound(round, shape = 'in-flight') {
  const meter = cpuMeter(stack.pids);
  meter.start();
  const prefix = shape === 'burst' ? `burst${round}` : `measured${round}`;
  const seconds = await runAll(runCount, prefix, shape);
  const cpuSeconds = meter.stop();
  const runIds = (
    await models.runs
      .find({ project_name: new RegExp(`^${prefix}-`) }, { workflow_run_id: 1 })
      .lean()
  ).map((r) => r.workflow_run_id);
  const completions = await models.events.countDocuments({
    workflow_run_id: { $in: runIds },
    event_type: 'module_completed',
  });
  if (completions !== runCount * moduleCount) {
    // Say which runs are short and what their histories hold: a lost event is a bug to chase.
    const perRun = await models.events.aggregate([
      { $match: { workflow_run_id: { $in: runIds }, event_type: 'module_completed' } },
      { $group: { _id: '$workflow_run_id', n: { $sum: 1 } } },
    ]);
    const counted = new Map(perRun.map((r) => [r._id, r.n]));
    const short = runIds.filter((id) => (counted.get(id) ?? 0) !== moduleCount);
    const history = short[0]
      ? await models.events
          .find({ workflow_run_id: short[0] }, { _id: 0, seq: 1, event_type: 1, module_name: 1 })
          .sort({ seq: 1 })
          .lean()
      : [];
    throw new Error(
      `expected ${runCount * moduleCount} module completions, found ${completions} in ${runIds.length} runs; ` +
        `${short.length} runs short: ${short
          .slice(0, 5)
          .map((id) => `${id}=${counted.get(id) ?? 0}`)
          .join(', ')}; ` +
        `history of the first: ${JSON.stringify(history)}`,
    );
  }
  const events = await models.events.find({ workflow_run_id: { $in: runIds } }, { _id: 0 }).lean();
  console.log(
    `round ${round} (${shape}): ${runCount} runs × ${moduleCount} modules in ${seconds.toFixed(2)} s → ${(completions / seconds).toFixed(0)} module completions/s; CPU s ${JSON.stringify(cpuSeconds)}`,
  );
  return { rate: completions / seconds, seconds, cpuSeconds, events, completions };
}

// Baseline 1: BullMQ no-op jobs on the same Redis, same concurrency as the runner.
async function bullmqNoopRate(jobs) {
  const connection = new Redis(process.env.REDIS_URL, { maxRetriesPerRequest: null });
  const prefix = `{benchnoop_${randomBytes(3).toString('hex')}}`;
  const queue = new Queue('noop', { connection, prefix });
  for (let i = 0; i < jobs; i += 1000)
    await queue.addBulk(
      Array.from({ length: Math.min(1000, jobs - i) }, (_, j) => ({
        name: 'noop',
        data: { i: i + j },
      })),
    );
  let done = 0;
  let finish;
  const finished = new Promise((resolve) => (finish = resolve));
  const started = performance.now();
  const worker = new Worker('noop', async () => undefined, {
    connection: new Redis(process.env.REDIS_URL, { maxRetriesPerRequest: null }),
    prefix,
    concurrency: runnerConcurrency,
  });
  worker.on('completed', () => {
    if (++done === jobs) finish();
  });
  await finished;
  const elapsed = (performance.now() - started) / 1000;
  await worker.close();
  await queue.obliterate({ force: true });
  await queue.close();
  await connection.quit();
  return jobs / elapsed;
}

// Baseline 2: insertMany of the same event documents into an empty collection of the same database
// with the events collection's indexes.
async function insertManyRates(events) {
  const scratch = stack.mongo.db.collection(`baseline_events_${randomBytes(3).toString('hex')}`);
  await scratch.createIndex({ workflow_run_id: 1, branch_id: 1, seq: 1 }, { unique: true });
  await scratch.createIndex({ event_id: 1 }, { unique: true });
  const fresh = (docs, tag) => docs.map((e) => ({ ...e, event_id: `${e.event_id}_${tag}` }));
  let started = performance.now();
  for (let i = 0; i < events.length; i += 1000)
    await scratch.insertMany(
      fresh(events.slice(i, i + 1000), 'bulk').map((e) => ({
        ...e,
        branch_id: `${e.branch_id}_bulk`,
      })),
    );
  const bulk = events.length / ((performance.now() - started) / 1000);
  const byRun = new Map();
  for (const event of events) {
    const list = byRun.get(event.workflow_run_id) ?? [];
    list.push(event);
    byRun.set(event.workflow_run_id, list);
  }
  started = performance.now();
  await inParallel([...byRun.values()], runnerConcurrency, (docs) =>
    scratch.insertMany(fresh(docs, 'run').map((e) => ({ ...e, branch_id: `${e.branch_id}_run` }))),
  );
  const perRun = events.length / ((performance.now() - started) / 1000);
  await scratch.drop();
  return { bulk, perRun };
}

const rounds = option('rounds', { quick: 1, full: 3 });
const measured = [];
for (let round = 0; round < rounds; round++) {
  const engine = await engineRound(round);
  const burst = await engineRound(round, 'burst');
  const noop = await bullmqNoopRate(Math.max(2000, engine.completions));
  const inserts = await insertManyRates(engine.events);
  console.log(
    `  baselines: BullMQ no-op ${noop.toFixed(0)} jobs/s; insertMany ${inserts.bulk.toFixed(0)} events/s in bulk, ${inserts.perRun.toFixed(0)} events/s one call per run`,
  );
  measured.push({
    ...engine,
    burstRate: burst.rate,
    noop,
    inserts,
    eventsPerCompletion: engine.events.length / engine.completions,
  });
}
const mid = (pick) => medianOf(measured.map(pick));
const stepwiseRate = mid((m) => m.rate);
const burstRate = mid((m) => m.burstRate);
const eventsPerCompletion = mid((m) => m.eventsPerCompletion);
const asCompletions = (eventsPerSecond) => eventsPerSecond / eventsPerCompletion;
const inserts = { bulk: mid((m) => m.inserts.bulk), perRun: mid((m) => m.inserts.perRun) };
const noopRate = mid((m) => m.noop);
const cpuSeconds = measured.at(-1).cpuSeconds;
const seconds = mid((m) => m.seconds);

emitResult({
  scenario: 'engine',
  title: 'Engine throughput',
  params: {
    runs: runCount,
    modules_per_run: moduleCount,
    runner_concurrency: runnerConcurrency,
    rounds,
    events_per_completion: round(eventsPerCompletion, 2),
    seconds: round(seconds, 2),
    cpu_seconds: cpuSeconds,
    quick,
  },
  figures: [
    figure({
      measure: 'module completions/s vs insertMany of the same events (batches of 1,000)',
      unit: '/s',
      stepwise: stepwiseRate,
      baseline: asCompletions(inserts.bulk),
      baselineLabel: 'insertMany bulk',
      better: 'higher',
      target: { ratioAtLeast: 0.3, text: '≥ 0.30' },
      extra: { baseline_events_per_s: round(inserts.bulk, 0) },
    }),
    figure({
      measure: 'module completions/s vs insertMany one call per run',
      unit: '/s',
      stepwise: stepwiseRate,
      baseline: asCompletions(inserts.perRun),
      baselineLabel: 'insertMany per run',
      better: 'higher',
      extra: { baseline_events_per_s: round(inserts.perRun, 0) },
    }),
    figure({
      measure: `module completions/s, ${runCount} runs started at once vs 16 in flight`,
      unit: '/s',
      stepwise: burstRate,
      baseline: stepwiseRate,
      baselineLabel: '16 POST /v1/runs in flight',
      better: 'higher',
      target: { ratioAtLeast: 0.8, text: '≥ 0.80' },
    }),
    figure({
      measure: 'module completions/s vs BullMQ no-op jobs/s',
      unit: '/s',
      stepwise: stepwiseRate,
      baseline: noopRate,
      baselineLabel: 'BullMQ no-op',
      better: 'higher',
    }),
  ],
});

await ending.close();
await stack.close();
process.exit(0);
