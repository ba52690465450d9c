// `npm run soak:cluster -- [--quick] [--minutes N] [--fault-every S] [--users N] [--seed N]`:
// the soak of scale.md's "Many gateways and runners" on a Redis Cluster. Three gateways behind
// HAProxy (soak/haproxy.mjs; the simulated people talk only to the balancer), three runners, a
// resolver, a Redis Cluster of three masters with a replica each (scripts/redis-cluster.sh, on
// ports --redis-port…+5, default 7300) and the MongoDB stand-in. Faults every S seconds, in a
// shuffled cycle: a gateway killed while clients follow run streams through it (SIGKILL, one time
// in four SIGTERM; started again 2-5 s later), a runner or the resolver killed, a Redis master
// killed (its replica takes over; the node is started again and rejoins as a replica), MongoDB
// paused. Some people sign in with a password (the session cookie) instead of an API key; half
// of the people have a client following each of their runs' event streams (soak/streams.mjs).
// Then the system goes quiet and is verified: every run (soak/verify.mjs), every followed stream
// against the log (each event once, in order, no gap, up to the run's last seq), no API key ever
// refused (401), a person made to sign in again only after a Redis failover; and at least one
// gateway kill cut a followed stream and one master was killed. `--quick`: two minutes, a fault
// every 10 s (each kind about twice). Writes
// soak/results/<timestamp>-cluster[-quick].json and exits 1 on any violation.
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { connectMongo, createModels } from '@stepwise/shared/node';
import { KeyHolder, SignedInPerson, authenticatedApi, httpClient } from './clients.mjs';
import { commandFigures } from './diagnose.mjs';
import { startBalancer } from './haproxy.mjs';
import { freePort, startMongo, startServices } from './processes.mjs';
import { RedisCluster } from './redis-cluster.mjs';
import {
  countBy,
  loadFigures,
  option,
  percentiles,
  readServiceLogs,
  soakSettings,
  summaryLines,
  writeReport,
} from './report.mjs';
import { StreamFollower, StreamRecord, verifyStreams } from './streams.mjs';
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
  soakSettings({ quickMinutes: 2, folder: 'soak-cluster' });
const sessionUserCount = Math.min(userCount, option('session-users', Math.ceil(userCount / 3)));
const gatewayCount = option('gateways', 3);
const runnerCount = option('runners', 3);
const redisPort = option('redis-port', 7300);
const random = randomSource(seed);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const seconds = (ms) => Math.round(ms / 100) / 10;
// People 0… run the effectful workflow; the last `sessionUserCount` sign in with a password;
// every other person (0, 2, 4…) has a client following their runs' streams.
const isSession = (i) => i >= userCount - sessionUserCount;
const isFollowed = (i) => i % 2 === 0;

log(
  `cluster soak: ${minutes} min, a fault every ${faultEverySeconds} s, ${gatewayCount} gateways behind HAProxy, ${runnerCount} runners, a Redis Cluster on ports ${redisPort}-${redisPort + 5}; ${userCount} users (${effectUserCount} with side effects, ${sessionUserCount} signed in with a password, ${Math.ceil(userCount / 2)} followed by stream clients), seed ${seed}; state in ${dir}`,
);
mkdirSync(dir, { recursive: true });
const { provider, effectfulWorkflows } = await startSoakProvider(seed);

const cluster = new RedisCluster({ dir, basePort: redisPort });
const all = [];
process.on('exit', () => {
  for (const p of all) {
    p.supervised = false;
    p.signal('SIGCONT');
    p.signal('SIGKILL');
  }
  cluster.stop();
});
process.on('SIGINT', () => process.exit(130));
process.on('SIGTERM', () => process.exit(143));

const { mongo, mongoUrl } = await startMongo(dir);
all.push(mongo);
const redisUrl = cluster.start();
log(`Redis Cluster up: ${redisUrl}; masters ${JSON.stringify(await cluster.masters())}`);
const balancerPort = await freePort();
const base = `http://127.0.0.1:${balancerPort}`;
const adminToken = randomBytes(16).toString('hex');
const services = await startServices({
  dir,
  mongoUrl,
  redisUrl,
  adminToken,
  gateways: gatewayCount,
  runners: runnerCount,
  runnerEnv: { LLM_BASE_URL: provider.baseUrl, OUTBOUND_ALLOWED_HOSTS: '127.0.0.1' },
  gatewayEnv: { PUBLIC_URL: base },
  commonEnv: { REDIS_CLUSTER: 'true', QUEUE_PREFIX: 'soak' },
});
all.push(...services.gateways, services.resolver, ...services.runners);
const haproxy = await startBalancer({
  dir,
  port: balancerPort,
  gateways: services.gateways.map((g) => ({ name: g.name, port: g.port })),
});
all.push(haproxy);
const call = httpClient(base);
for (const until = Date.now() + 30_000; ; await sleep(250)) {
  const ready = await call('/readyz').catch(() => null);
  if (ready?.status === 200) break;
  if (Date.now() > until) throw new Error('the balancer found no ready gateway within 30 s');
}
const connection = await connectMongo(mongoUrl, { retryForMs: 30_000 });
const models = createModels(connection);

// People: a key each; the password people also take an invitation (which signs them in).
const admin = { authorization: `Bearer ${adminToken}` };
const unauthorized = [];
const signInsAgain = [];
const users = [];
for (let i = 0; i < userCount; i++) {
  const name = `soak${i}`;
  const created = await call('/v1/admin/users', {
    method: 'POST',
    headers: admin,
    body: { username: name, email: `${name}@example.com` },
  });
  if (created.status !== 201) throw new Error(`creating a user: ${JSON.stringify(created.body)}`);
  let holder = new KeyHolder(name, created.body.api_key);
  if (isSession(i)) {
    const invited = await call(`/v1/admin/users/${created.body.user.user_id}/invitations`, {
      method: 'POST',
      headers: admin,
    });
    if (invited.status !== 201) throw new Error(`inviting: ${JSON.stringify(invited.body)}`);
    holder = new SignedInPerson({
      name,
      login: name,
      password: `a long passphrase for ${name}`,
      call,
      origin: base,
      onSignIn: () => signInsAgain.push({ who: name, at: Date.now() }),
    });
    await holder.acceptInvitation(invited.body.url.split('#token=')[1]);
  }
  const api = authenticatedApi(call, holder, unauthorized);
  const workflows = i < effectUserCount ? effectfulWorkflows : { v1: workflowV1, v2: workflowV2 };
  const v1 = await api('/v1/workflows', { method: 'POST', body: workflows.v1 });
  const v2 = await api('/v1/workflows', { method: 'POST', body: workflows.v2 });
  if (v1.status !== 201 || v2.status !== 201)
    throw new Error(`submitting the workflows: ${JSON.stringify([v1.body, v2.body])}`);
  const versions = { v1: v1.body.workflow_version_id, v2: v2.body.workflow_version_id };
  users.push({ name, holder, api, workflows, versions, followed: isFollowed(i) });
}
// The way back in after a lost session works: one person signs out behind their own back (the
// session ends in Redis, the cookie stays), so their next request is 401 and they sign in again.
const probe = users.find((u) => u.holder.kind === 'session');
if (probe) {
  const ended = await call('/v1/me/session', {
    method: 'DELETE',
    headers: probe.holder.headers('DELETE'),
  });
  const again = await probe.api('/v1/me');
  if (ended.status !== 204 || again.status !== 200 || signInsAgain.length !== 1)
    throw new Error(
      `signing in again after a lost session does not work: ${JSON.stringify([ended.status, again.status, signInsAgain.length])}`,
    );
  unauthorized.length = 0;
  signInsAgain.length = 0;
}
log(`${userCount} users and their workflows are in; load starts`);

// Stream clients: one per run of a followed person, from the run's start until the person has
// left it and the client has every event up to the run's last seq at that moment (read from
// MongoDB). The runs left at the end are finished once the system is quiet.
const streams = new StreamRecord();
const followers = new Map();
const finishing = [];
const leftAtTheEnd = [];
const finishFollower = async (runId) => {
  const follower = followers.get(runId);
  for (let attempt = 1; ; attempt++) {
    try {
      const run = await models.runs.findOne({ workflow_run_id: runId }, { last_seq: 1 }).lean();
      return await follower.finish(run?.last_seq ?? 0);
    } catch (error) {
      // MongoDB paused or away: read again (the soak's own reads must not fail it).
      if (attempt >= 30) throw error;
      await sleep(1_000);
    }
  }
};
const onRunOf = (user) => (started, left) => {
  if (!user.followed) return;
  if (left !== null) {
    if (started === null) leftAtTheEnd.push(left);
    else finishing.push(finishFollower(left));
  }
  if (started !== null)
    followers.set(
      started,
      new StreamFollower({
        base,
        runId: started,
        holder: user.holder,
        record: streams,
        unauthorized,
        random: randomSource(Math.floor(random() * 2 ** 31)),
      }),
    );
};

// The faults, in a shuffled cycle so that every kind comes round.
const faults = [];
const faultErrors = [];
const masterKills = [];
const faultKinds = {
  'kill gateway': async () => {
    // The gateway serving the most followed streams, so that clients must reconnect.
    const open = streams.openByGateway();
    const ranked = [...services.gateways].sort(
      (a, b) => (open[b.name] ?? 0) - (open[a.name] ?? 0) || random() - 0.5,
    );
    const gateway = ranked[0];
    const signal = random() < 0.25 ? 'SIGTERM' : 'SIGKILL';
    await gateway.stop(signal);
    await sleep(2_000 + random() * 3_000);
    await gateway.start();
    return { target: gateway.name, signal, streams_cut: open[gateway.name] ?? 0 };
  },
  'kill runner': async () => {
    const runner = services.runners[Math.floor(random() * services.runners.length)];
    await runner.stop('SIGKILL');
    await sleep(500 + random() * 1500);
    await runner.start();
    return { target: runner.name };
  },
  'kill resolver': async () => {
    await services.resolver.stop('SIGKILL');
    await sleep(500 + random() * 1500);
    await services.resolver.start();
    return { target: 'resolver' };
  },
  'kill redis master': async () => {
    const killed = await cluster.killMaster(random, (at) => masterKills.push(at));
    await sleep(1_000 + random() * 2_000);
    const rejoinMs = await cluster.restartNode(killed.port);
    return {
      target: `redis ${killed.port} (slots ${killed.slots})`,
      ...killed,
      rejoin_ms: rejoinMs,
    };
  },
  'pause mongo': async () => {
    const ms = Math.round(3_000 + random() * 4_000);
    mongo.signal('SIGSTOP');
    await sleep(ms);
    mongo.signal('SIGCONT');
    return { target: 'mongo', paused_ms: ms };
  },
};
let cycle = [];
async function injectFaults(deadline) {
  let next = Date.now() + faultEverySeconds * 1000;
  while (next + 5_000 < deadline) {
    await sleep(next - Date.now());
    if (cycle.length === 0) cycle = Object.keys(faultKinds).sort(() => random() - 0.5);
    const kind = cycle.pop();
    const began = Date.now();
    let detail;
    try {
      detail = await faultKinds[kind]();
    } catch (error) {
      // A fault that could not be carried through (a node that never rejoined) is reported.
      detail = { error: String(error?.message ?? error) };
      faultErrors.push({ run: '-', what: `fault ${kind} failed: ${detail.error}` });
    }
    faults.push({ kind, ...detail, at_s: seconds(began - startedAt), took_ms: Date.now() - began });
    log(`fault: ${kind} ${JSON.stringify(detail)}`);
    next = Math.max(began + faultEverySeconds * 1000, Date.now() + 1_000);
  }
}

const record = new LoadRecord();
const loadStarted = Date.now();
const deadline = loadStarted + minutes * 60_000;
await Promise.all([
  injectFaults(deadline),
  ...users.map((user, i) =>
    simulateUser({
      api: user.api,
      random: randomSource(seed + i + 1),
      deadline,
      record,
      versions: user.versions,
      workflows: user.workflows,
      onRun: onRunOf(user),
    }),
  ),
]);
const loadSeconds = (Date.now() - loadStarted) / 1000;
log(`load stopped after ${loadSeconds.toFixed(0)} s; waiting for the system to go quiet`);

// Everything up again, then quiet: no run running, no command pending.
for (const p of all) p.signal('SIGCONT');
for (const p of all) if (!p.running) await p.start();
await cluster.restartAll();
const quietFrom = Date.now();
const quiet = await waitForQuiet(models, 180_000);
const quietSeconds = seconds(Date.now() - quietFrom);
log(
  `quiet after ${quietSeconds} s: ${quiet.running} runs running, ${quiet.pending} commands pending`,
);
await Promise.all(finishing);
await Promise.all(leftAtTheEnd.map(finishFollower));
for (const until = Date.now() + 60_000; provider.inFlight() > 0 && Date.now() < until;)
  await sleep(500);
log('verifying');
const { violations, checked } = await verifyRuns(models, record.acknowledgedAnswers, {
  calls: provider.calls,
});
const streamCheck = await verifyStreams(models, streams);
violations.push(...streamCheck.violations, ...faultErrors);
checked.streams = streamCheck.checked;
// Keys are never refused; a session ends only in a Redis failover (its newest writes may be lost).
for (const refused of unauthorized) {
  const since = masterKills.filter((at) => at <= refused.at).at(-1);
  if (refused.kind === 'key')
    violations.push({
      run: '-',
      what: `${refused.who}'s API key was refused (401) on ${refused.path}`,
    });
  else if (since === undefined || refused.at - since > 60_000)
    violations.push({
      run: '-',
      what: `${refused.who}'s session ended (401 on ${refused.path}) with no Redis failover in the minute before`,
    });
}
for (const p of all)
  for (const crash of p.crashes)
    violations.push({
      run: '-',
      what: `${p.name} exited unexpectedly (code ${crash.code}, signal ${crash.signal}) at ${crash.at}`,
    });
const logs = readServiceLogs(
  dir,
  all.map((p) => p.name),
);
for (const match of logs.crossslot)
  violations.push({ run: '-', what: `CROSSSLOT in ${match.service}'s log: ${match.line}` });

const commands = await commandFigures(models);
// Which fault each late stream event was committed during (MongoDB paused: the stream's read waits).
const faultAt = (time) =>
  faults.find((f) => {
    const began = startedAt.getTime() + f.at_s * 1000;
    return time >= began - 1_000 && time <= began + f.took_ms + 1_000;
  })?.kind ?? 'no fault';
const lateDuring = countBy(streams.late.map((l) => faultAt(Date.parse(l.committed_at))));
const gatewayKills = faults.filter((f) => f.kind === 'kill gateway');
// What the soak is for must have happened, or its 0 would mean nothing.
if (!gatewayKills.some((f) => f.streams_cut > 0))
  violations.push({ run: '-', what: 'coverage: no gateway was killed while it served a stream' });
if (masterKills.length === 0)
  violations.push({ run: '-', what: 'coverage: no Redis master was killed' });
const report = {
  started_at: startedAt,
  command: `npm run soak:cluster -- ${process.argv.slice(2).join(' ')}`.trim(),
  seed,
  minutes,
  fault_every_s: faultEverySeconds,
  topology: {
    gateways: gatewayCount,
    balancer: 'HAProxy (Debian), round robin, health checks on /readyz',
    runners: runnerCount,
    resolvers: 1,
    redis: 'Redis Cluster: 3 masters, a replica each (scripts/redis-cluster.sh)',
    mongo: 'MongoDB stand-in',
  },
  users: {
    total: userCount,
    with_side_effects: effectUserCount,
    signed_in_with_password: sessionUserCount,
    followed_by_stream_clients: users.filter((u) => u.followed).length,
  },
  load: loadFigures(record, loadSeconds),
  faults: { count: faults.length, by_kind: countBy(faults.map((f) => f.kind)), list: faults },
  streams: {
    followed_runs: streams.followers.length,
    events_received: streamCheck.checked.events,
    reconnects: streams.reconnects,
    reconnect_reasons: Object.fromEntries([...streams.reasons].sort()),
    streams_cut_by_gateway_kills: gatewayKills.reduce((n, f) => n + (f.streams_cut ?? 0), 0),
    gateway_kills_with_streams_open: gatewayKills.filter((f) => f.streams_cut > 0).length,
    delivery_delay_ms: percentiles(streams.delaysMs),
    delivered_over_5_s_late: streams.late.length,
    late_during: lateDuring,
    late: streams.late.slice(0, 100),
  },
  sessions: {
    signed_in_again: signInsAgain.length,
    refused: countBy(unauthorized.map((u) => u.kind)),
    after_master_kill_s: signInsAgain.map((s) =>
      seconds(s.at - (masterKills.filter((at) => at <= s.at).at(-1) ?? startedAt.getTime())),
    ),
  },
  commands: {
    settle_ms: percentiles(commands.settle),
    numbers_taken_never_stored: commands.lostNumbers.length,
    lost_numbers: commands.lostNumbers.slice(0, 20),
    waited_over_60_s: commands.over60s,
    slowest: commands.slowest,
    stalled_runs: commands.stalledRuns,
  },
  sweeps: logs.sweeps,
  service_errors: logs.errors,
  quiet_after_s: quietSeconds,
  crashes: Object.fromEntries(
    all.filter((p) => p.crashes.length > 0).map((p) => [p.name, p.crashes]),
  ),
  checked,
  violations: { count: violations.length, list: violations.slice(0, 100) },
};
const file = writeReport(report, startedAt, quick ? 'cluster-quick' : 'cluster');
const s = report.streams;
console.log(
  [
    '',
    ...summaryLines(report),
    `streams: ${s.followed_runs} runs followed, ${s.events_received} events received, ${s.reconnects} reconnects ${JSON.stringify(s.reconnect_reasons)}; ${s.streams_cut_by_gateway_kills} streams cut by ${s.gateway_kills_with_streams_open} of ${gatewayKills.length} gateway kills; delivery delay p50 ${s.delivery_delay_ms.p50} ms, p99 ${s.delivery_delay_ms.p99} ms, ${s.delivered_over_5_s_late} events over 5 s late ${JSON.stringify(lateDuring)}`,
    `sessions: ${report.sessions.signed_in_again} signed in again ${JSON.stringify(report.sessions.after_master_kill_s)} s after a master kill; 401s ${JSON.stringify(report.sessions.refused)}`,
    `commands settled (accepted → applied or rejected): p50 ${report.commands.settle_ms.p50} ms, p99 ${report.commands.settle_ms.p99} ms, max ${report.commands.settle_ms.max} ms, ${commands.over60s} over 60 s; ${commands.lostNumbers.length} command numbers taken and never stored`,
    `sweeps re-enqueued ${logs.sweeps.commands} commands and ${logs.sweeps.runs} runs from MongoDB; quiet ${quietSeconds} s after the load`,
    `service errors logged: ${JSON.stringify(logs.errors)}`,
    `violations: ${violations.length}`,
    ...violations.slice(0, 20).map((v) => `  ${v.run}: ${v.what}`),
    `report: ${file}`,
  ].join('\n'),
);

await connection.close();
await provider.close();
for (const p of all) p.supervised = false;
await haproxy.stop('SIGTERM');
await Promise.all(
  [...services.gateways, services.resolver, ...services.runners].map((p) => p.stop('SIGTERM')),
);
await mongo.stop('SIGTERM');
cluster.stop();
if (violations.length === 0 && !process.argv.includes('--keep-logs'))
  rmSync(dir, { recursive: true, force: true });
else log(`logs kept in ${dir}`);
process.exit(violations.length === 0 ? 0 : 1);
