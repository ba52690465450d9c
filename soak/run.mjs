// `npm run soak -- --minutes N [--fault-every S] [--users N] [--effect-users N] [--seed N]`:
// simulated people drive runs through the HTTP API for N minutes while faults are injected every
// S seconds (a runner or the resolver killed with SIGKILL, the gateway restarted, Redis killed and
// restarted, MongoDB paused with SIGSTOP for seconds). Some of the people (--effect-users, default
// a third) run a workflow with side effects (api.llm, api.fetch, artifact.save) against a fake
// provider in this process, which counts every call by run. Then the system is left to go quiet
// and every run is verified (soak/verify.mjs), its side effects included (effects.md). Prints the
// load held, the faults injected and the violations found, writes soak/results/<timestamp>.json,
// and exits 1 if anything was violated. Runs its own Redis and MongoDB stand-in (it must be able
// to kill and pause them); needs a build (npm run build).
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { connectMongo, createModels } from '@stepwise/shared/node';
import { effectfulWorkflow, startFakeProvider } from '../test/support/fake-provider.mjs';
import { startServices, startStores } from './processes.mjs';
import { LoadRecord, randomSource, simulateUser, workflowV1, workflowV2 } from './users.mjs';
import { verifyRuns, waitForQuiet } from './verify.mjs';

const root = new URL('..', import.meta.url).pathname;
const option = (name, fallback) => {
  const at = process.argv.indexOf(`--${name}`);
  return at === -1 ? fallback : Number(process.argv[at + 1]);
};
const quick = process.argv.includes('--quick');
const minutes = option('minutes', quick ? 1 : 10);
const faultEverySeconds = option('fault-every', quick ? 10 : 20);
const userCount = option('users', 12);
const effectUserCount = Math.min(userCount, option('effect-users', Math.ceil(userCount / 3)));
const seed = option('seed', Math.floor(Math.random() * 2 ** 31));
const random = randomSource(seed);
const startedAt = new Date();
const dir = `${root}.local/soak-${startedAt.getTime()}`;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const log = (message) =>
  console.log(`[${((Date.now() - startedAt) / 1000).toFixed(1).padStart(6)} s] ${message}`);

log(
  `soak: ${minutes} min, a fault every ${faultEverySeconds} s, ${userCount} users (${effectUserCount} with side effects), seed ${seed}; state in ${dir}; stores: Redis with an append-only file in that folder (its restarts are faults), the MongoDB stand-in in memory (paused, never killed)`,
);
mkdirSync(dir, { recursive: true });
// The LLM and render provider: answers after 0-150 ms (as a real one takes its time, so that
// commands and faults land while calls are open), and keeps the books the verifier compares.
const providerRandom = randomSource(seed ^ 0x5eed);
const provider = await startFakeProvider({ delayMs: () => Math.floor(providerRandom() * 150) });
const effectfulWorkflows = {
  v1: effectfulWorkflow({ renderUrl: provider.renderUrl, workflowId: 'soak_effects' }),
  v2: effectfulWorkflow({
    renderUrl: provider.renderUrl,
    workflowId: 'soak_effects',
    confirmMessage: 'Ready to publish “{{ state.draft }}”?',
  }),
};
const stores = await startStores(dir);
const adminToken = randomBytes(16).toString('hex');
const services = await startServices({
  dir,
  ...stores,
  adminToken,
  runnerEnv: { LLM_BASE_URL: provider.baseUrl, OUTBOUND_ALLOWED_HOSTS: '127.0.0.1' },
});
const all = [stores.redis, stores.mongo, services.gateway, services.resolver, ...services.runners];
const cleanUp = () => {
  for (const p of all) {
    p.supervised = false;
    p.signal('SIGCONT');
    p.signal('SIGKILL');
  }
};
process.on('exit', cleanUp);
process.on('SIGINT', () => process.exit(130));
process.on('SIGTERM', () => process.exit(143));

/** JSON over HTTP with a timeout; throws on network failure, answers {status, body} otherwise. */
async function call(path, { method = 'GET', body, key } = {}) {
  const response = await fetch(`${services.base}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${key}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(20_000),
  });
  const text = await response.text();
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = { raw: text.slice(0, 200) };
  }
  return { status: response.status, body: parsed };
}

// Users, each with its own key and its own versions of the workflow.
const users = [];
for (let i = 0; i < userCount; i++) {
  const created = await call('/v1/admin/users', {
    method: 'POST',
    key: adminToken,
    body: { username: `soak${i}`, email: `soak${i}@example.com` },
  });
  if (created.status !== 201) throw new Error(`creating a user: ${JSON.stringify(created)}`);
  const key = created.body.api_key;
  // The first `effectUserCount` people run the effectful workflow, the others the plain one.
  const workflows = i < effectUserCount ? effectfulWorkflows : { v1: workflowV1, v2: workflowV2 };
  const v1 = await call('/v1/workflows', { method: 'POST', key, body: workflows.v1 });
  const v2 = await call('/v1/workflows', { method: 'POST', key, body: workflows.v2 });
  if (v1.status !== 201 || v2.status !== 201) throw new Error('submitting the workflows failed');
  users.push({
    key,
    workflows,
    versions: { v1: v1.body.workflow_version_id, v2: v2.body.workflow_version_id },
  });
}
log(`${userCount} users and their workflows are in; load starts`);

// The faults, in a shuffled cycle so that every kind comes round.
const faults = [];
const faultKinds = {
  'kill runner': async () => {
    const runner = services.runners[Math.floor(random() * services.runners.length)];
    await runner.stop('SIGKILL');
    await sleep(500 + random() * 1500);
    await runner.start();
    return runner.name;
  },
  'kill resolver': async () => {
    await services.resolver.stop('SIGKILL');
    await sleep(500 + random() * 1500);
    await services.resolver.start();
    return 'resolver';
  },
  'restart gateway': async () => {
    const hard = random() < 0.5;
    await services.gateway.stop(hard ? 'SIGKILL' : 'SIGTERM');
    await services.gateway.start();
    return hard ? 'SIGKILL' : 'SIGTERM';
  },
  'restart redis': async () => {
    await stores.redis.stop('SIGKILL');
    await sleep(500 + random() * 1500);
    await stores.redis.start();
    return 'SIGKILL, then started on its append-only file';
  },
  'pause mongo': async () => {
    const ms = Math.round(3_000 + random() * 4_000);
    stores.mongo.signal('SIGSTOP');
    await sleep(ms);
    stores.mongo.signal('SIGCONT');
    return `${ms} ms`;
  },
};
let cycle = [];
async function injectFaults(deadline) {
  while (Date.now() + faultEverySeconds * 1000 < deadline) {
    await sleep(faultEverySeconds * 1000);
    if (cycle.length === 0) cycle = Object.keys(faultKinds).sort(() => random() - 0.5);
    const kind = cycle.pop();
    const began = Date.now();
    const detail = await faultKinds[kind]();
    faults.push({
      kind,
      detail,
      at_s: Math.round((began - startedAt) / 1000),
      took_ms: Date.now() - began,
    });
    log(`fault: ${kind} (${detail})`);
  }
}

const record = new LoadRecord();
const loadStarted = Date.now();
const deadline = loadStarted + minutes * 60_000;
await Promise.all([
  injectFaults(deadline),
  ...users.map((user, i) =>
    simulateUser({
      api: (path, init = {}) => call(path, { ...init, key: user.key }),
      random: randomSource(seed + i + 1),
      deadline,
      record,
      versions: user.versions,
      workflows: user.workflows,
    }),
  ),
]);
const loadSeconds = (Date.now() - loadStarted) / 1000;
log(`load stopped after ${loadSeconds.toFixed(0)} s; waiting for the system to go quiet`);

// Everything up again, then quiet: no run running, no command pending.
for (const p of all) p.signal('SIGCONT');
for (const p of all) if (!p.running) await p.start();
const mongo = await connectMongo(stores.mongoUrl, { retryForMs: 30_000 });
const models = createModels(mongo);
const quiet = await waitForQuiet(models, 180_000);
log(`quiet: ${quiet.running} runs running, ${quiet.pending} commands pending; verifying`);
// Calls still open at the provider are effects in flight: wait for them too (at most 60 s).
for (const until = Date.now() + 60_000; provider.inFlight() > 0 && Date.now() < until;)
  await sleep(500);
const { violations, checked } = await verifyRuns(models, record.acknowledgedAnswers, {
  calls: provider.calls,
});
// A service that died on its own (not by an injected fault) is a defect too, whatever the runs say.
for (const p of all)
  for (const crash of p.crashes)
    violations.push({
      run: '-',
      what: `${p.name} exited unexpectedly (code ${crash.code}, signal ${crash.signal}) at ${crash.at}`,
    });

const sorted = [...record.latencies].sort((a, b) => a - b);
const at = (p) =>
  Math.round(sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0);
const report = {
  started_at: startedAt,
  seed,
  minutes,
  fault_every_s: faultEverySeconds,
  users: userCount,
  load: {
    seconds: Math.round(loadSeconds),
    commands_accepted: record.acceptedCommands,
    commands_per_second: Math.round((record.acceptedCommands / loadSeconds) * 10) / 10,
    requests_answered: sorted.length,
    latency_ms: { p50: at(50), p99: at(99), max: Math.round(sorted.at(-1) ?? 0) },
    actions: Object.fromEntries(record.actions),
    statuses: Object.fromEntries([...record.statuses].sort()),
    failed_requests: Object.fromEntries([...record.failures].sort()),
  },
  faults: { count: faults.length, by_kind: countBy(faults.map((f) => f.kind)), list: faults },
  crashes: Object.fromEntries(
    all.filter((p) => p.crashes.length > 0).map((p) => [p.name, p.crashes]),
  ),
  checked,
  violations: { count: violations.length, list: violations.slice(0, 100) },
};
function countBy(values) {
  const counts = {};
  for (const v of values) counts[v] = (counts[v] ?? 0) + 1;
  return counts;
}

mkdirSync(`${root}soak/results`, { recursive: true });
const file = `soak/results/${startedAt.toISOString().replace(/[:.]/g, '-')}${quick ? '-quick' : ''}.json`;
writeFileSync(`${root}${file}`, `${JSON.stringify(report, null, 2)}\n`);
console.log(
  [
    '',
    `load held: ${report.load.commands_accepted} commands accepted in ${report.load.seconds} s (${report.load.commands_per_second}/s), request p50 ${report.load.latency_ms.p50} ms, p99 ${report.load.latency_ms.p99} ms`,
    `actions: ${JSON.stringify(report.load.actions)}`,
    `failed requests (during faults): ${JSON.stringify(report.load.failed_requests)}`,
    `faults injected: ${faults.length} ${JSON.stringify(report.faults.by_kind)}`,
    `unplanned exits (restarted like a supervisor would): ${JSON.stringify(report.crashes)}`,
    `checked: ${checked.runs} runs, ${checked.events} events, ${checked.commands} commands, ${checked.answers} acknowledged answers`,
    `effects: ${checked.effects.llm_calls} LLM calls for ${checked.effects.llm_completed} completed, ${checked.effects.llm_failed} failed and ${checked.effects.llm_interrupted} interrupted api.llm attempts; ${checked.effects.tokens} tokens records; ${checked.effects.fetch_calls} render calls; ${checked.effects.artifacts} artifacts checked`,
    `violations: ${violations.length}`,
    ...violations.slice(0, 20).map((v) => `  ${v.run}: ${v.what}`),
    `report: ${file}`,
  ].join('\n'),
);

await mongo.close();
await provider.close();
for (const p of all) p.supervised = false;
await Promise.all(
  [services.gateway, services.resolver, ...services.runners].map((p) => p.stop('SIGTERM')),
);
await Promise.all([stores.redis.stop('SIGTERM'), stores.mongo.stop('SIGTERM')]);
for (const p of all) p.supervised = false;
if (violations.length === 0 && !process.argv.includes('--keep-logs'))
  rmSync(dir, { recursive: true, force: true });
else log(`logs kept in ${dir}`);
process.exit(violations.length === 0 ? 0 : 1);
