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
import { mkdirSync, rmSync } from 'node:fs';
import { connectMongo, createModels } from '@stepwise/shared/node';
import { startServices, startStores } from './processes.mjs';
import { httpClient } from './clients.mjs';
import { countBy, loadFigures, soakSettings, summaryLines, writeReport } from './report.mjs';
import {
  LoadRecord,
  randomSource,
  simulateUser,
  startSoakProvider,
  workflowV1,
  workflowV2,
} from './users.mjs';
import { verifyRuns, waitForQuiet } from './verify.mjs';

const { quick, minutes, faultEverySeconds, userCount, effectUserCount, seed, startedAt, dir, log } =
  soakSettings({ quickMinutes: 1, folder: 'soak' });
const random = randomSource(seed);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

log(
  `soak: ${minutes} min, a fault every ${faultEverySeconds} s, ${userCount} users (${effectUserCount} with side effects), seed ${seed}; state in ${dir}; stores: Redis with an append-only file in that folder (its restarts are faults), the MongoDB stand-in in memory (paused, never killed)`,
);
mkdirSync(dir, { recursive: true });
const { provider, effectfulWorkflows } = await startSoakProvider(seed);
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
const http = httpClient(services.base);
const call = (path, { method = 'GET', body, key } = {}) =>
  http(path, { method, body, headers: { authorization: `Bearer ${key}` } });

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

const report = {
  started_at: startedAt,
  seed,
  minutes,
  fault_every_s: faultEverySeconds,
  users: userCount,
  load: loadFigures(record, loadSeconds),
  faults: { count: faults.length, by_kind: countBy(faults.map((f) => f.kind)), list: faults },
  crashes: Object.fromEntries(
    all.filter((p) => p.crashes.length > 0).map((p) => [p.name, p.crashes]),
  ),
  checked,
  violations: { count: violations.length, list: violations.slice(0, 100) },
};
const file = writeReport(report, startedAt, quick ? 'quick' : '');
console.log(
  [
    '',
    ...summaryLines(report),
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
