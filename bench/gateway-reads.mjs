// Gateway reads: GET /v1/runs/{id} requests per second at 50 connections (autocannon), against a
// real gateway process, next to /healthz at the same load in the same run. The two alternate, and
// each figure is the median of its rounds. Needs MONGO_URL, REDIS_URL and a build.
//   node bench/gateway-reads.mjs [--quick] [--seconds N] [--rounds N]
import autocannon from 'autocannon';
import { cpuMeter, startProcessStack } from './support/process-stack.mjs';
import { emitResult, figure, medianOf, option, quick, round } from './support/report.mjs';

const seconds = option('seconds', { quick: 3, full: 10 });
const rounds = option('rounds', { quick: 1, full: 3 });
const connections = 50;

const stack = await startProcessStack({
  label: 'reads',
  services: ['gateway', 'resolver', 'runner'],
});
const { call, base, apiKey } = stack;
const version = await call('/v1/workflows', {
  method: 'POST',
  body: JSON.stringify({
    workflow_id: 'reads-bench',
    steps: [
      {
        step_id: 's',
        modules: [
          {
            module_id: 'transform.set',
            name: 'set',
            inputs: { value: 'x' },
            outputs_to_state: { value: 'v' },
          },
          { module_id: 'user.confirm', name: 'ok', inputs: { message: 'ok?' } },
        ],
      },
    ],
  }),
});
const run = await call('/v1/runs', {
  method: 'POST',
  body: JSON.stringify({ workflow_version_id: version.workflow_version_id, project_name: 'reads' }),
});
if (run.status !== 'awaiting_input') throw new Error(`run is ${run.status}`);

async function load(path, duration) {
  const meter = cpuMeter(stack.pids);
  meter.start();
  const result = await autocannon({
    url: `${base}${path}`,
    connections,
    duration,
    headers: { authorization: `Bearer ${apiKey}` },
  });
  const cpu = meter.stop();
  const bad = result.non2xx + result.errors + result.timeouts;
  if (bad > 0) throw new Error(`${path}: ${bad} failed requests of ${result.requests.total}`);
  // CPU per request, by process: where the time goes.
  const cpuPerRequestUs = Object.fromEntries(
    Object.entries(cpu).map(([k, v]) => [k, Math.round((v / result.requests.total) * 1e6)]),
  );
  return {
    rps: result.requests.average,
    p50_ms: result.latency.p50,
    p99_ms: result.latency.p99,
    cpu_us_per_request: cpuPerRequestUs,
  };
}

const runPath = `/v1/runs/${run.workflow_run_id}`;
await load('/healthz', 1); // warm-up: JIT and connection pools
await load(runPath, 1);
const health = [];
const reads = [];
for (let r = 0; r < rounds; r++) {
  health.push(await load('/healthz', seconds));
  reads.push(await load(runPath, seconds));
}
const summary = (results) => ({
  rps: medianOf(results.map((r) => r.rps)),
  p50_ms: medianOf(results.map((r) => r.p50_ms)),
  p99_ms: medianOf(results.map((r) => r.p99_ms)),
});
const healthz = summary(health);
const runRead = summary(reads);
console.log('CPU µs per request, /healthz:', JSON.stringify(health.at(-1).cpu_us_per_request));
console.log('CPU µs per request, GET run:', JSON.stringify(reads.at(-1).cpu_us_per_request));
console.log(
  `GET /v1/runs/{id}: ${runRead.rps.toFixed(0)} req/s (p50 ${runRead.p50_ms} ms, p99 ${runRead.p99_ms} ms); /healthz ${healthz.rps.toFixed(0)} req/s (p50 ${healthz.p50_ms} ms, p99 ${healthz.p99_ms} ms)`,
);

emitResult({
  scenario: 'gateway-reads',
  title: `Gateway reads at ${connections} connections`,
  params: { connections, seconds, rounds, quick },
  figures: [
    figure({
      measure: 'GET /v1/runs/{id} requests/s',
      unit: 'req/s',
      stepwise: runRead.rps,
      baseline: healthz.rps,
      baselineLabel: '/healthz',
      better: 'higher',
      target: { ratioAtLeast: 0.5, text: '≥ 0.50' },
      extra: { run_read: runRead, healthz, rounds: { reads, health } },
    }),
    figure({
      measure: 'GET /v1/runs/{id} p99 latency',
      unit: 'ms',
      stepwise: runRead.p99_ms,
      baseline: healthz.p99_ms,
      baselineLabel: '/healthz',
      better: 'lower',
    }),
  ].map((f) => ({ ...f, stepwise: round(f.stepwise, 1), baseline: round(f.baseline, 1) })),
});

await stack.close();
process.exit(0);
