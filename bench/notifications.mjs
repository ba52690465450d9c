// Notifications at load (people.md, "Notifications and deadlines"), against real gateway, resolver
// and runner processes: N runs started at once, each raising a question, by a user with a webhook
// subscription to `interaction.requested` (a loopback receiver answering 204), against the same N
// runs by a user with no subscription; in rounds that alternate which goes first. Figures: the
// runner's throughput (runs at their question per second, from the first start to the last run
// waiting) with webhooks on against none, and how long after the last run waits the last
// notification is delivered (every one must be). Needs MONGO_URL, REDIS_URL and a build.
//   node bench/notifications.mjs [--quick] [--runs N] [--rounds N] [--clients N]
import { createServer } from 'node:http';
import { once } from 'node:events';
import { jsonCaller } from './support/json-caller.mjs';
import { startProcessStack } from './support/process-stack.mjs';
import { emitResult, figure, inParallel, option, round, sleep } from './support/report.mjs';

const runCount = option('runs', { quick: 200, full: 1_000 });
const rounds = option('rounds', { quick: 2, full: 3 });
const clients = option('clients', { quick: 32, full: 32 });

// The receiver: counts each delivery once by its webhook-id (a repeat would be a bug here).
const received = new Set();
let repeats = 0;
const receiver = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    const id = String(req.headers['webhook-id']);
    if (received.has(id)) repeats++;
    received.add(id);
    res.writeHead(204).end();
  });
});
receiver.listen(0, '127.0.0.1');
await once(receiver, 'listening');
const receiverUrl = `http://127.0.0.1:${receiver.address().port}/hooks`;

const stack = await startProcessStack({
  label: 'notifications',
  env: { OUTBOUND_ALLOWED_HOSTS: '127.0.0.1' },
});
const { base, models } = stack;

async function newUser(name) {
  const response = await fetch(`${base}/v1/admin/users`, {
    method: 'POST',
    headers: { authorization: `Bearer ${stack.adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ username: name, email: `${name}@example.com` }),
  });
  const body = await response.json();
  if (response.status !== 201) throw new Error(`creating ${name}: ${JSON.stringify(body)}`);
  return { userId: body.user.user_id, call: jsonCaller(base, body.api_key) };
}

const quiet = await newUser('no-webhooks');
const notified = await newUser('webhooks');
await notified.call('/v1/webhooks', {
  method: 'POST',
  body: JSON.stringify({ url: receiverUrl, events: ['interaction.requested'] }),
});

// A Liquid step, then the question: each run commits twice before it waits.
const workflow = {
  workflow_id: 'notify-bench',
  steps: [
    {
      step_id: 'draft',
      modules: [
        {
          module_id: 'transform.set',
          name: 'topic',
          inputs: { value: 'A film about {{ run.project_name }}' },
          outputs_to_state: { value: 'topic' },
        },
        {
          module_id: 'user.confirm',
          name: 'approve',
          inputs: { message: 'Make “{{ state.topic }}”?' },
        },
      ],
    },
  ],
};
const versions = {};
for (const user of [quiet, notified]) {
  const submitted = await user.call('/v1/workflows', {
    method: 'POST',
    body: JSON.stringify(workflow),
  });
  versions[user.userId] = submitted.workflow_version_id;
}

const waitingCount = (userId) =>
  models.runs.countDocuments({ user_id: userId, status: 'awaiting_input' });

/** Starts N runs at once and answers the seconds until every one waits at its question. */
async function burst(user, label) {
  const before = await waitingCount(user.userId);
  const started = performance.now();
  await inParallel(
    Array.from({ length: runCount }, (_, i) => i),
    clients,
    (i) =>
      user.call('/v1/runs?wait_ms=0', {
        method: 'POST',
        body: JSON.stringify({
          workflow_version_id: versions[user.userId],
          project_name: `${label}-${i}`,
        }),
      }),
  );
  while ((await waitingCount(user.userId)) < before + runCount) await sleep(20);
  return (performance.now() - started) / 1000;
}

const plain = [];
const withHooks = [];
const deliveryLag = [];
// One unmeasured burst each first: the processes' caches and JIT warm up.
await burst(quiet, 'warm-quiet');
const warmExpected = received.size + runCount;
await burst(notified, 'warm-hooks');
while (received.size < warmExpected) await sleep(20);
for (let r = 0; r < rounds; r++) {
  const order = r % 2 === 0 ? ['plain', 'hooks'] : ['hooks', 'plain'];
  for (const which of order) {
    if (which === 'plain') {
      plain.push(await burst(quiet, `plain-${r}`));
      continue;
    }
    const expected = received.size + runCount;
    const seconds = await burst(notified, `hooks-${r}`);
    const waited = performance.now();
    while (received.size < expected) await sleep(10);
    withHooks.push(seconds);
    deliveryLag.push((performance.now() - waited) / 1000);
  }
}
const pending = await models.webhookDeliveries.countDocuments({ status: { $ne: 'delivered' } });
if (pending !== 0 || repeats !== 0)
  throw new Error(`${pending} deliveries not delivered, ${repeats} repeats`);

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const plainRate = runCount / median(plain);
const hooksRate = runCount / median(withHooks);
emitResult({
  scenario: 'notifications',
  figures: [
    figure({
      measure: `${runCount} runs started at once, each raising a question: runs waiting per second, with a webhook per question`,
      unit: 'runs/s',
      stepwise: round(hooksRate, 1),
      baseline: round(plainRate, 1),
      baselineLabel: 'the same runs with no webhook subscription',
      better: 'higher',
      extra: {
        seconds_with_webhooks: withHooks.map((s) => round(s, 2)),
        seconds_without: plain.map((s) => round(s, 2)),
        last_delivery_after_last_run_waits_s: deliveryLag.map((s) => round(s, 2)),
        deliveries: received.size,
        repeated_deliveries: repeats,
      },
    }),
  ],
});
await stack.close();
receiver.close();
process.exit(0);
