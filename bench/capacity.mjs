// Capacity: what each kind of operation costs each process, and so how many processes of each kind
// a load needs. Real gateway, resolver and runner processes on the real stores; a steady load of
// one operation kind at a time through HTTP (a fixed number in flight), and for each: CPU µs per
// operation in the gateway, runner, resolver, Redis and MongoDB (process CPU from /proc, less the
// same processes' idle CPU over as long), the round trips each service sends to each store
// (counted on the wire by a relay in front of the stores: bench/support/wire-counter.mjs), Redis's
// own command counts, and the rate reached. From those, the capacity model
// (bench/support/capacity-model.mjs): runs/s one core of each kind sustains for a mix, what
// saturates first, the processes a load needs. Baseline in the same run: GET /healthz at the same
// concurrency. Needs MONGO_URL, REDIS_URL and a build.
//   node bench/capacity.mjs [--quick] [--rounds N] [--runs N] [--reads-per-run M]
//     [--bundles-per-run B] [--modules-per-run K] [--headroom 0.6] [--direct (no relay, no trips)]
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Redis } from 'ioredis';
import JSZip from 'jszip';
import {
  capacityModel,
  describeModel,
  processKinds,
  textTable,
} from './support/capacity-model.mjs';
import {
  medianTree,
  redisCpuByTag,
  summarize,
  windowSampler,
} from './support/capacity-measure.mjs';
import { startProcessStack, storePids } from './support/process-stack.mjs';
import { emitResult, figure, inParallel, option, quick, round, sleep } from './support/report.mjs';
import { startWireCounter } from './support/wire-counter.mjs';

const root = new URL('..', import.meta.url).pathname;
const rounds = option('rounds', { quick: 1, full: 3 });
const runCount = option('runs', { quick: 60, full: 300 });
const readCount = runCount * 10;
const bundleCount = option('bundles', { quick: 8, full: 40 });
const engineRuns = option('engine-runs', { quick: 16, full: 100 });
const idleSeconds = option('idle-seconds', { quick: 2, full: 5 });
const inFlight = 16; // requests in flight (bundles: 2)
const modulesEachSide = 4; // transform.set modules before the question, and after it
const engineModules = 20; // the engine scenario's workflow size
const mixReads = option('reads-per-run', { quick: 5, full: 5 });
const mixBundles = option('bundles-per-run', { quick: 0.01, full: 0.01 });
const headroom = option('headroom', { quick: 0.6, full: 0.6 });
const measuredCompletions = 2 * modulesEachSide + 1; // the question is a module too
const mixCompletions = option('modules-per-run', {
  quick: measuredCompletions,
  full: measuredCompletions,
});
const services = ['gateway', 'runner', 'resolver'];

// Round trips are counted on the wire by a relay the services talk to instead of the stores (only
// for a single local Redis and MongoDB: a cluster's clients follow its nodes' own addresses).
const real = { redis: new URL(process.env.REDIS_URL), mongo: new URL(process.env.MONGO_URL) };
const stores = storePids(); // before the URLs point at the relay
const relayable =
  !process.argv.includes('--direct') &&
  real.redis.protocol === 'redis:' &&
  !process.env.REDIS_URL.includes(',') &&
  !process.env.REDIS_CLUSTER &&
  real.mongo.protocol === 'mongodb:' &&
  !real.mongo.host.includes(',');
const counter = relayable
  ? await startWireCounter({
      redis: `${real.redis.hostname}:${real.redis.port || 6379}`,
      mongo: `${real.mongo.hostname}:${real.mongo.port || 27017}`,
    })
  : null;
if (counter) {
  const via = (url, port) =>
    Object.assign(new URL(url), { hostname: '127.0.0.1', port }).toString();
  process.env.REDIS_URL = via(real.redis, counter.ports.redis);
  process.env.MONGO_URL = via(real.mongo, counter.ports.mongo);
} else console.log('not counting round trips (--direct, or not one local Redis and MongoDB)');
const missingStores = ['redis', 'mongo'].filter((s) => !stores[s]);
if (missingStores.length) console.log(`no CPU figures for ${missingStores.join(', ')} (not local)`);

const startLoad = loadavg().map((l) => round(l, 2));
// MONGO_COMMAND_LOG=<file> (the services' own log of their MongoDB commands) is passed on, to
// check the wire counts against (it costs the services a synchronous write per command: the CPU
// figures of such a run are not the ones to use).
const commandLog = process.env.MONGO_COMMAND_LOG;
const stack = await startProcessStack({
  label: 'capacity',
  env: commandLog ? { MONGO_COMMAND_LOG: commandLog } : {},
});
const { base, apiKey, models } = stack;
const redis = new Redis(real.redis.toString());
const pids = {
  ...stack.pids,
  ...stores,
  bench: process.pid,
  ...(counter ? { relay: counter.pid } : {}),
};
const sampler = windowSampler({ pids, counter, redis });

/** One request; throws unless it answers `status`; answers the parsed body. */
async function request(path, { status = 200, body, headers = {}, method = 'GET' } = {}) {
  const response = await fetch(`${base}${path}`, {
    method,
    body,
    headers: { authorization: `Bearer ${apiKey}`, ...headers },
  });
  const text = await response.text();
  if (response.status !== status)
    throw new Error(
      `${method} ${path}: ${response.status} (wanted ${status}) ${text.slice(0, 300)}`,
    );
  return response.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text;
}
const postJson = (path, value, status) =>
  request(path, {
    method: 'POST',
    status,
    body: JSON.stringify(value),
    headers: { 'content-type': 'application/json' },
  });

const setModule = (name, i) => ({
  module_id: 'transform.set',
  name: `${name}_${i}`,
  inputs: { value: `{{ run.project_name }}:${i}` },
  outputs_to_state: { value: `${name}_${i}` },
});
const sets = (name, n) => Array.from({ length: n }, (_, i) => setModule(name, i));
const question = await postJson(
  '/v1/workflows',
  {
    workflow_id: 'capacity-question',
    steps: [
      {
        step_id: 'prepare',
        modules: [
          ...sets('before', modulesEachSide),
          {
            module_id: 'user.confirm',
            name: 'ok',
            inputs: { message: 'Go on with {{ run.project_name }}?' },
          },
        ],
      },
      { step_id: 'finish', modules: sets('after', modulesEachSide) },
    ],
  },
  201,
);
const engine = await postJson(
  '/v1/workflows',
  {
    workflow_id: 'capacity-engine',
    steps: [
      { step_id: 'first', modules: sets('first', engineModules / 2) },
      { step_id: 'second', modules: sets('second', engineModules / 2) },
    ],
  },
  201,
);

// The resolver's bundle: the example workflow as a zip, with a marker so each is a new version.
const exampleFiles = [];
(function walk(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else exampleFiles.push([relative(join(root, 'examples/pet-clips'), path), readFileSync(path)]);
  }
})(join(root, 'examples/pet-clips'));
async function bundle() {
  const archive = new JSZip();
  for (const [path, bytes] of exampleFiles) archive.file(path, bytes);
  archive.file('prompts/marker.liquid', randomBytes(8).toString('hex'));
  return archive.generateAsync({ type: 'nodebuffer', compression: 'DEFLATE' });
}

const wait = 'wait_ms=30000'; // every change answers at rest, so its work is inside its window
const operations = {
  submit: {
    label: 'submit a bundle (example workflow zip)',
    prepare: (n) => Promise.all(Array.from({ length: n }, bundle)),
    limit: 2,
    work: (bytes) =>
      request(`/v1/workflows?${wait}`, {
        method: 'POST',
        status: 201,
        body: bytes,
        headers: { 'content-type': 'application/zip' },
      }),
  },
  start: {
    label: `start a run to its question (${modulesEachSide} modules)`,
    work: async (project, _, runs) => {
      const run = await postJson(
        `/v1/runs?${wait}`,
        { workflow_version_id: question.workflow_version_id, project_name: project },
        201,
      );
      if (run.status !== 'awaiting_input') throw new Error(`a started run is ${run.status}`);
      runs.push(run);
    },
  },
  answer: {
    label: `answer it (${modulesEachSide + 1} modules, to the end)`,
    work: async (run) => {
      const id = run.pending_interaction.interaction_id;
      const after = await postJson(
        `/v1/runs/${run.workflow_run_id}/interactions/${id}?${wait}`,
        { response: { confirmed: true } },
        200,
      );
      if (after.status !== 'completed') throw new Error(`an answered run is ${after.status}`);
    },
  },
  read: { label: 'read a run (GET /v1/runs/{id})', work: (id) => request(`/v1/runs/${id}`) },
  engine: {
    label: `run of ${engineModules} modules, no question`,
    work: async (project) => {
      const run = await postJson(
        `/v1/runs?${wait}`,
        { workflow_version_id: engine.workflow_version_id, project_name: project },
        201,
      );
      if (run.status !== 'completed') throw new Error(`an engine run is ${run.status}`);
    },
  },
  healthz: { label: 'GET /healthz (baseline)', work: () => request('/healthz') },
};

/** Runs `items` through one operation kind with its in-flight limit, inside a measured window. */
async function measure(kind, items, idle, context) {
  const op = operations[kind];
  const before = await sampler.sample();
  await inParallel(items, op.limit ?? inFlight, (item, i) => op.work(item, i, context));
  const after = await sampler.sample();
  const summary = summarize(sampler.delta(before, after), idle, items.length, services);
  if (counter) return summary;
  // No relay, no round trips: leave them out rather than report zeros.
  const { redis_round_trips: _r, mongo_round_trips: _m, commands: _c, ...measured } = summary;
  return measured;
}

const completionsOf = (runIds) =>
  models.events.countDocuments({
    workflow_run_id: { $in: runIds },
    event_type: 'module_completed',
  });

async function idleWindow() {
  await sleep(500); // let the last operation's stragglers (announcements, metrics) settle
  const before = await sampler.sample();
  await sleep(idleSeconds * 1000);
  return sampler.delta(before, await sampler.sample());
}

/** One round: every operation kind in turn, each over its own window. */
async function oneRound(r, count, { measured = true } = {}) {
  const idle = await idleWindow();
  const tag = `${r}-${randomBytes(2).toString('hex')}`;
  const projects = Array.from({ length: count }, (_, i) => `cap-${tag}-${i}`);
  const result = {};
  result.submit = await measure('submit', await operations.submit.prepare(bundleCount), idle);
  const runs = [];
  result.start = await measure('start', projects, idle, runs);
  const ids = runs.map((run) => run.workflow_run_id);
  const afterStart = await completionsOf(ids);
  result.answer = await measure('answer', runs, idle);
  const afterAnswer = await completionsOf(ids);
  result.read = await measure(
    'read',
    Array.from({ length: count * 10 }, (_, i) => ids[i % ids.length]),
    idle,
  );
  const engineProjects = Array.from({ length: engineRuns }, (_, i) => `cap-engine-${tag}-${i}`);
  result.engine = await measure('engine', engineProjects, idle);
  const engineIds = (
    await models.runs.find({ project_name: { $in: engineProjects } }, { workflow_run_id: 1 }).lean()
  ).map((run) => run.workflow_run_id);
  const engineCompletions = await completionsOf(engineIds);
  result.healthz = await measure(
    'healthz',
    Array.from({ length: count * 10 }, (_, i) => i),
    idle,
  );
  const completions = {
    start: afterStart / count,
    answer: (afterAnswer - afterStart) / count,
    engine: engineCompletions / engineRuns,
  };
  if (completions.start !== modulesEachSide || completions.answer !== modulesEachSide + 1)
    throw new Error(`module completions per run: ${JSON.stringify(completions)}`);
  if (completions.engine !== engineModules)
    throw new Error(`engine completions per run: ${completions.engine}`);
  if (measured)
    console.log(
      `round ${r}: ` +
        Object.entries(result)
          .map(([kind, s]) => `${kind} ${s.operations} in ${s.seconds} s (${s.ops_per_s}/s)`)
          .join(', '),
    );
  return { result, idle, completions };
}

// Warm-up: JIT, connection pools, caches (a cold process costs up to twice as much per operation).
await oneRound('warmup', Math.max(40, Math.floor(runCount / 4)), { measured: false });
const measuredRounds = [];
for (let r = 0; r < rounds; r++) measuredRounds.push(await oneRound(r, runCount));
const costs = medianTree(measuredRounds.map((m) => m.result));
const idleCpuPerSecond = medianTree(
  measuredRounds.map(({ idle }) =>
    Object.fromEntries(Object.entries(idle.cpu).map(([k, v]) => [k, v / idle.seconds])),
  ),
);

// CPU per module completion: over the engine workflow's runs (their start costs included), and
// over the question workflow's start and answer together.
const perCompletion = Object.fromEntries(
  processKinds.map((k) => [k, costs.engine.cpu_us[k] / engineModules]),
);
const questionPerCompletion = Object.fromEntries(
  processKinds.map((k) => [
    k,
    (costs.start.cpu_us[k] + costs.answer.cpu_us[k]) / measuredCompletions,
  ]),
);
// What one more module in a run costs: a run of the engine workflow against a start of the question
// workflow (both one job and one commit from POST to rest), per module between them.
const marginalPerCompletion = Object.fromEntries(
  processKinds.map((k) => [
    k,
    Math.max(
      0,
      (costs.engine.cpu_us[k] - costs.start.cpu_us[k]) / (engineModules - modulesEachSide),
    ),
  ]),
);
const perOp = Object.fromEntries(
  ['start', 'answer', 'read', 'submit'].map((kind) => [kind, costs[kind].cpu_us]),
);
const loads = [10, 100, 300, 1000];
const model = capacityModel({
  perOp,
  // A mix of bigger runs than measured adds the engine workflow's average per completion: an upper
  // bound (it carries a run's own costs too); the marginal cost above is printed, not used.
  perCompletion,
  redisTagUsec: counter
    ? {
        ...Object.fromEntries(
          ['start', 'answer', 'read', 'submit'].map((kind) => [kind, redisCpuByTag(costs[kind])]),
        ),
        completion: Object.fromEntries(
          Object.entries(redisCpuByTag(costs.engine)).map(([tag, v]) => [tag, v / engineModules]),
        ),
      }
    : undefined,
  measuredCompletions,
  mix: { reads: mixReads, bundles: mixBundles, completions: mixCompletions },
  headroom,
  loads,
});

const total = (cost) => processKinds.reduce((t, k) => t + (cost.cpu_us[k] ?? 0), 0);
const kinds = ['start', 'answer', 'read', 'submit', 'engine', 'healthz'];
const trips = (cost, store) =>
  cost[`${store}_round_trips`]
    ? services.map((s) => `${cost[`${store}_round_trips`][s]}`).join(' / ')
    : '–';
console.log(
  `\nPer operation (median of ${rounds} round(s); CPU µs net of idle; round trips gateway / runner / resolver):\n` +
    textTable(
      [
        'operation',
        ...processKinds.map((k) => `${k} µs`),
        'total µs',
        'bench µs',
        'Redis trips',
        'Mongo trips',
        'Redis cmds run',
        'ops/s',
      ],
      kinds.map((kind) => {
        const c = costs[kind];
        return [
          operations[kind].label,
          ...processKinds.map((k) => c.cpu_us[k] ?? '–'),
          total(c),
          c.cpu_us.bench,
          trips(c, 'redis'),
          trips(c, 'mongo'),
          c.redis_commands_executed,
          c.ops_per_s,
        ];
      }),
    ),
);
console.log(
  `\nCPU µs per module completion: engine workflow ${JSON.stringify(mapRound(perCompletion))}; ` +
    `question workflow ${JSON.stringify(mapRound(questionPerCompletion))}; ` +
    `one more module in a run ${JSON.stringify(mapRound(marginalPerCompletion))}`,
);
console.log(`Idle CPU (s per s): ${JSON.stringify(mapRound(idleCpuPerSecond, 4))}`);
console.log(`\n${describeModel(model, { measuredCompletions })}\n`);

function mapRound(values, digits = 0) {
  return Object.fromEntries(Object.entries(values).map(([k, v]) => [k, round(v, digits)]));
}

const healthzTotal = total(costs.healthz);
// The baseline's ceiling: /healthz requests/s one gateway core sustains at the same headroom.
const healthzPerCore = (1e6 / costs.healthz.cpu_us.gateway) * headroom;
emitResult({
  scenario: 'capacity',
  title: 'Capacity: CPU and round trips per operation, and the processes a load needs',
  params: {
    rounds,
    runs_per_round: runCount,
    reads_per_round: readCount,
    bundles_per_round: bundleCount,
    engine_runs_per_round: engineRuns,
    in_flight: inFlight,
    modules_per_question_run: measuredCompletions,
    engine_modules_per_run: engineModules,
    idle_seconds: idleSeconds,
    round_trips_counted: Boolean(counter),
    // Other work on the machine (1, 5 and 15 minute load averages) at the start and the end.
    load_average: { start: startLoad, end: loadavg().map((l) => round(l, 2)) },
    quick,
  },
  figures: [
    ...['start', 'answer', 'read', 'submit', 'engine'].map((kind) =>
      figure({
        measure: `CPU per operation, all services and stores: ${operations[kind].label}`,
        unit: 'µs',
        stepwise: total(costs[kind]),
        baseline: healthzTotal,
        baselineLabel: 'GET /healthz',
        better: 'lower',
      }),
    ),
    figure({
      measure: `runs/s the first process to saturate sustains on one core at ${Math.round(headroom * 100)} % (${model.one_of_each.bottleneck}; mix: ${mixReads} reads per run)`,
      unit: '/s',
      stepwise: model.one_of_each.runs_per_s * headroom,
      baseline: healthzPerCore,
      baselineLabel: 'GET /healthz on one gateway core',
      better: 'higher',
    }),
  ],
  costs: Object.fromEntries(
    kinds.map((kind) => [kind, { label: operations[kind].label, ...costs[kind] }]),
  ),
  per_completion_cpu_us: {
    engine_workflow: mapRound(perCompletion),
    marginal: mapRound(marginalPerCompletion),
    question_workflow: mapRound(questionPerCompletion),
  },
  idle_cpu_s_per_s: mapRound(idleCpuPerSecond, 4),
  model,
  rounds: measuredRounds.map((m) => m.result),
});

if (commandLog && counter) await crossCheck();

/** MongoDB commands per service: the services' own log against the wire's count, whole run. */
async function crossCheck() {
  const database = stack.mongo.name;
  const logged = {};
  for (const line of readFileSync(commandLog, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const entry = JSON.parse(line);
    if (entry.databaseName === database) logged[entry.service] = (logged[entry.service] ?? 0) + 1;
  }
  const { trips } = await sampler.sample();
  const onWire = (service) =>
    Object.entries(trips[service]?.mongo ?? {})
      .filter(([key]) => !/^(hello|ismaster|isMaster|legacy OP_QUERY)\b/.test(key))
      .reduce((total, [, n]) => total + n, 0);
  console.log(
    `MONGO_COMMAND_LOG cross-check (commands over the whole run, wire / log): ${services
      .map((service) => `${service} ${onWire(service)} / ${logged[service] ?? 0}`)
      .join(', ')}`,
  );
}

await redis.quit();
await stack.close();
await counter?.close();
process.exit(0);
