// Interaction round trip: a person answers an interaction, and the next `interaction_requested`
// arrives on the run's SSE stream. Real gateway, resolver and runner processes; one answer in
// flight at a time; p50/p99 over many answers. Baseline in the same run: an HTTP round trip to
// /healthz plus a Redis PING. Needs MONGO_URL, REDIS_URL and a build.
//   node bench/interaction.mjs [--quick] [--runs N] [--interactions N]
import { request } from 'node:http';
import { Redis } from 'ioredis';
import { startProcessStack } from './support/process-stack.mjs';
import { emitResult, figure, latency, option, quick } from './support/report.mjs';

const runCount = option('runs', { quick: 3, full: 11 });
const perRun = option('interactions', { quick: 70, full: 101 });

const stack = await startProcessStack({ label: 'interaction' });
const { call, base, apiKey } = stack;

const version = await call('/v1/workflows', {
  method: 'POST',
  body: JSON.stringify({
    workflow_id: 'interaction-bench',
    steps: [
      {
        step_id: 'review',
        modules: Array.from({ length: perRun }, (_, i) => ({
          module_id: 'user.confirm',
          name: `confirm_${i}`,
          inputs: { message: `Keep going with {{ run.project_name }} (${i})?` },
        })),
      },
    ],
  }),
});

/** Follows a run's SSE stream and hands each event to whoever waits for its type. */
function followRun(runId, afterSeq) {
  const waiters = [];
  const req = request(`${base}/v1/runs/${runId}/stream`, {
    headers: { authorization: `Bearer ${apiKey}`, 'last-event-id': String(afterSeq) },
  });
  req.on('response', (res) => {
    res.setEncoding('utf8');
    let buffer = '';
    res.on('data', (chunk) => {
      buffer += chunk;
      let end;
      while ((end = buffer.indexOf('\n\n')) !== -1) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const type = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (!type || !data) continue;
        const at = performance.now();
        const index = waiters.findIndex((w) => w.types.includes(type));
        if (index !== -1)
          waiters.splice(index, 1)[0].resolve({ type, event: JSON.parse(data), at });
      }
    });
  });
  req.end();
  return {
    next: (types) => new Promise((resolve) => waiters.push({ types, resolve })),
    close: () => req.destroy(),
  };
}

async function answer(runId, interactionId) {
  const response = await fetch(`${base}/v1/runs/${runId}/interactions/${interactionId}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ response: { confirmed: true } }),
  });
  if (response.status !== 200)
    throw new Error(`answer: ${response.status} ${await response.text()}`);
  await response.arrayBuffer();
}

async function driveRun(index, samples) {
  const run = await call('/v1/runs', {
    method: 'POST',
    body: JSON.stringify({
      workflow_version_id: version.workflow_version_id,
      project_name: `interaction-${index}`,
    }),
  });
  const stream = followRun(run.workflow_run_id, run.last_seq);
  let interactionId = run.pending_interaction.interaction_id;
  for (let i = 0; i < perRun; i++) {
    const arrival = stream.next(['interaction_requested', 'run_completed']);
    const started = performance.now();
    const answered = answer(run.workflow_run_id, interactionId);
    const next = await arrival;
    await answered;
    if (next.type === 'interaction_requested') {
      samples?.push(next.at - started);
      interactionId = next.event.data.interaction_id;
    } else if (i !== perRun - 1) throw new Error('the run completed early');
  }
  stream.close();
}

await driveRun('warmup'); // JIT, connection pools, caches
const samples = [];
for (let r = 0; r < runCount; r++) await driveRun(r, samples);

const redis = new Redis(process.env.REDIS_URL);
const baselineSamples = [];
for (let i = 0; i < 50; i++) await (await fetch(`${base}/healthz`)).arrayBuffer(); // warm-up
for (let i = 0; i < samples.length; i++) {
  const started = performance.now();
  await (await fetch(`${base}/healthz`)).arrayBuffer();
  await redis.ping();
  baselineSamples.push(performance.now() - started);
}
await redis.quit();

const stepwise = latency(samples);
const baseline = latency(baselineSamples);
console.log(
  `interaction round trip over ${samples.length} answers: p50 ${stepwise.median_ms} ms, p99 ${stepwise.p99_ms} ms; /healthz + PING p50 ${baseline.median_ms} ms, p99 ${baseline.p99_ms} ms`,
);
emitResult({
  scenario: 'interaction',
  title: 'Interaction round trip (answer → next interaction_requested on SSE)',
  params: { answers: samples.length, runs: runCount, interactions_per_run: perRun, quick },
  figures: [
    figure({
      measure: 'p50',
      unit: 'ms',
      stepwise: stepwise.median_ms,
      baseline: baseline.median_ms,
      baselineLabel: '/healthz + Redis PING',
      better: 'lower',
      target: { ratioAtMost: 6, text: '≤ 6×' },
    }),
    figure({
      measure: 'p99',
      unit: 'ms',
      stepwise: stepwise.p99_ms,
      baseline: baseline.p99_ms,
      baselineLabel: '/healthz + Redis PING',
      better: 'lower',
      target: { ratioAtMost: 3, text: '≤ 3×' },
    }),
  ],
});

await stack.close();
process.exit(0);
