// Memory: resident set size of real gateway and runner processes with many runs waiting for input,
// and of the gateway while it streams a 50 MB artifact. Baseline: the same process's RSS when idle
// after start-up and warm-up, in the same run. Needs MONGO_URL, REDIS_URL and a build.
//   node bench/memory.mjs [--quick] [--runs N] [--artifact-mib N]
import { createHash, randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { newId } from '@stepwise/shared';
import { insertArtifactRecord, uploadToBucket } from '@stepwise/shared/node';
import { rssOf, startProcessStack } from './support/process-stack.mjs';
import { emitResult, figure, inParallel, option, quick, sleep } from './support/report.mjs';

const runCount = option('runs', { quick: 1_000, full: 10_000 });
const artifactMiB = option('artifact-mib', { quick: 50, full: 50 });
const MiB = 2 ** 20;

const stack = await startProcessStack({ label: 'memory' });
const { call, models, pids, base, apiKey } = stack;

const version = await call('/v1/workflows', {
  method: 'POST',
  body: JSON.stringify({
    workflow_id: 'memory-bench',
    steps: [
      {
        step_id: 'draft',
        modules: [
          {
            module_id: 'transform.set',
            name: 'title',
            inputs: { value: 'A clip about {{ run.project_name }}' },
            outputs_to_state: { value: 'title' },
          },
          {
            module_id: 'user.confirm',
            name: 'approve',
            inputs: { message: 'Approve “{{ state.title }}”?' },
          },
        ],
      },
    ],
  }),
});

const createRuns = (count, prefix) =>
  inParallel(
    Array.from({ length: count }, (_, i) => i),
    32,
    (i) =>
      call('/v1/runs?wait_ms=0', {
        method: 'POST',
        body: JSON.stringify({
          workflow_version_id: version.workflow_version_id,
          project_name: `${prefix}-${i}`,
        }),
      }),
  );

async function untilWaiting(count) {
  for (;;) {
    const waiting = await models.runs.countDocuments({ status: 'awaiting_input' });
    if (waiting >= count) return;
    if ((await models.runs.countDocuments({ status: 'failed' })) > 0)
      throw new Error('a run failed');
    await sleep(250);
  }
}

// Warm-up, then the idle baseline: a few runs through every path, and a pause for the heap to settle.
await createRuns(20, 'warmup');
await untilWaiting(20);
await sleep(3_000);
const idle = { gateway: rssOf(pids.gateway), runner: rssOf(pids.runner) };

const peak = { ...idle };
const sampler = setInterval(() => {
  peak.gateway = Math.max(peak.gateway, rssOf(pids.gateway));
  peak.runner = Math.max(peak.runner, rssOf(pids.runner));
}, 100);
// In two halves, so the figures also say whether memory follows the number of waiting runs (a
// process holding something per run) or only the load of creating them (heap sized up once).
const started = performance.now();
const half = Math.floor(runCount / 2);
await createRuns(half, 'first-half');
await untilWaiting(half + 20);
await sleep(3_000);
const halfway = { gateway: rssOf(pids.gateway), runner: rssOf(pids.runner) };
await createRuns(runCount - half, 'second-half');
await untilWaiting(runCount + 20);
const seconds = (performance.now() - started) / 1000;
clearInterval(sampler);
await sleep(3_000);
const waiting = { gateway: rssOf(pids.gateway), runner: rssOf(pids.runner) };
const perThousand = (name) =>
  Math.round((((waiting[name] - halfway[name]) / (runCount - half)) * 1000 * 10) / MiB) / 10;
console.log(
  `${runCount} runs waiting for input after ${seconds.toFixed(1)} s; RSS MiB idle ${JSON.stringify(mib(idle))}, halfway ${JSON.stringify(mib(halfway))}, peak ${JSON.stringify(mib(peak))}, settled ${JSON.stringify(mib(waiting))}; second half MiB per 1,000 runs: gateway ${perThousand('gateway')}, runner ${perThousand('runner')}`,
);

// A 50 MB artifact, stored as artifact.save stores one, then downloaded over HTTP.
const bytes = randomBytes(artifactMiB * MiB);
const sha256 = createHash('sha256').update(bytes).digest('hex');
const fileId = await uploadToBucket(stack.mongo, 'artifacts', 'big.bin', bytes, {});
const artifactId = newId('artifact');
// With its owner lookup, as the services store one (GET /v1/artifacts/{id} reads through it).
await insertArtifactRecord(models, {
  artifact_id: artifactId,
  workflow_run_id: newId('run'),
  user_id: stack.userId,
  branch_id: newId('branch'),
  event_id: null,
  step_id: 'draft',
  module_name: 'render',
  kind: 'deliverable',
  name: 'big.bin',
  content_type: 'application/octet-stream',
  size: bytes.length,
  sha256,
  file_id: fileId,
  created_at: new Date(),
});
const beforeStream = rssOf(pids.gateway);
let streamPeak = beforeStream;
const streamSampler = setInterval(
  () => (streamPeak = Math.max(streamPeak, rssOf(pids.gateway))),
  20,
);
const received = await new Promise((resolve, reject) => {
  const hash = createHash('sha256');
  let count = 0;
  request(
    `${base}/v1/artifacts/${artifactId}/content`,
    { headers: { authorization: `Bearer ${apiKey}` } },
    (res) => {
      res.on('data', (chunk) => {
        hash.update(chunk);
        count += chunk.length;
      });
      res.on('end', () => resolve({ status: res.statusCode, sha256: hash.digest('hex'), count }));
      res.on('error', reject);
    },
  )
    .on('error', reject)
    .end();
});
clearInterval(streamSampler);
if (received.status !== 200 || received.sha256 !== sha256 || received.count !== bytes.length)
  throw new Error(`artifact download went wrong: ${JSON.stringify(received)}`);
console.log(
  `streaming ${artifactMiB} MiB: gateway RSS ${(beforeStream / MiB).toFixed(1)} MiB before, ${(streamPeak / MiB).toFixed(1)} MiB at peak`,
);

function mib(values) {
  return Object.fromEntries(
    Object.entries(values).map(([k, v]) => [k, Math.round((v / MiB) * 10) / 10]),
  );
}
const inMiB = (bytes) => Math.round((bytes / MiB) * 10) / 10;

emitResult({
  scenario: 'memory',
  title: 'Memory (resident set size)',
  params: {
    runs_waiting: runCount,
    artifact_mib: artifactMiB,
    seconds_to_create: Math.round(seconds),
    quick,
  },
  figures: [
    figure({
      measure: `gateway RSS, ${runCount} runs waiting for input`,
      unit: 'MiB',
      stepwise: inMiB(waiting.gateway),
      baseline: inMiB(idle.gateway),
      baselineLabel: 'gateway idle',
      better: 'lower',
      target: { ratioAtMost: 1.5, text: '≤ 1.5×' },
      extra: {
        peak_while_creating_mib: inMiB(peak.gateway),
        halfway_mib: inMiB(halfway.gateway),
        second_half_mib_per_1000_runs: perThousand('gateway'),
      },
    }),
    figure({
      measure: `runner RSS, ${runCount} runs waiting for input`,
      unit: 'MiB',
      stepwise: inMiB(waiting.runner),
      baseline: inMiB(idle.runner),
      baselineLabel: 'runner idle',
      better: 'lower',
      target: { ratioAtMost: 1.5, text: '≤ 1.5×' },
      extra: {
        peak_while_creating_mib: inMiB(peak.runner),
        halfway_mib: inMiB(halfway.runner),
        second_half_mib_per_1000_runs: perThousand('runner'),
      },
    }),
    figure({
      measure: `gateway peak RSS while streaming a ${artifactMiB} MiB artifact`,
      unit: 'MiB',
      stepwise: inMiB(streamPeak),
      baseline: inMiB(beforeStream),
      baselineLabel: 'gateway just before',
      better: 'lower',
    }),
  ],
});

await stack.close();
process.exit(0);
