// Scale: a run with 100,000 events against one with 10, on the same stack in the same run. Reads
// the state, reads a page of events (the same number of events from each), and advances one module
// (a retry), each many times; prints medians, p99s and the ratio big/small, which should stay near
// 1 (nothing a run does grows with its history). Needs MONGO_URL, REDIS_URL and a build.
//   node bench/scale.mjs [--quick] [--events N] [--samples N]
import { newId } from '@stepwise/shared';
import { startBenchStack } from './support/in-process-stack.mjs';
import { emitResult, figure, latency, option, quick } from './support/report.mjs';

const bigEvents = option('events', { quick: 10_000, full: 100_000 });
const samples = option('samples', { quick: 30, full: 100 });
const pageSize = 5;
const stack = await startBenchStack({ label: 'scale' });
const { models, call } = stack;
const workflow = {
  workflow_id: 'scale',
  steps: [
    {
      step_id: 's',
      modules: [
        {
          module_id: 'transform.set',
          name: 'set',
          inputs: { value: '{{ run.project_name }}' },
          outputs_to_state: { value: 'v' },
        },
        { module_id: 'user.confirm', name: 'ok', inputs: { message: 'ok?' } },
      ],
    },
  ],
};
const version = await call('/v1/workflows', { method: 'POST', body: JSON.stringify(workflow) });
const small = await call('/v1/runs', {
  method: 'POST',
  body: JSON.stringify({ workflow_version_id: version.workflow_version_id, project_name: 'small' }),
});
const big = await call('/v1/runs', {
  method: 'POST',
  body: JSON.stringify({ workflow_version_id: version.workflow_version_id, project_name: 'big' }),
});

// Give the big run its history: as many retries as it takes to reach the event count, written to
// the log directly (going through the engine would take as long as the history is long).
const existing = await models.events
  .find({ workflow_run_id: big.workflow_run_id })
  .sort({ seq: 1 })
  .lean();
const template = existing.slice(-4);
const history = [];
let seq = existing.length;
while (seq + 4 <= bigEvents) {
  for (const event of template)
    history.push({
      ...event,
      _id: undefined,
      event_id: newId('event'),
      seq: ++seq,
      data:
        event.event_type === 'interaction_requested'
          ? { ...event.data, interaction_id: newId('interaction') }
          : event.data,
    });
}
for (let i = 0; i < history.length; i += 5_000)
  await models.events.collection.insertMany(
    history.slice(i, i + 5_000).map(({ _id, ...event }) => event),
  );
const last = history.at(-1);
await models.runs.collection.updateOne(
  { workflow_run_id: big.workflow_run_id },
  {
    $set: {
      last_seq: seq,
      outbox: [],
      'snapshot.as_of_seq': seq,
      'snapshot.pending_interaction.interaction_id': last.data.interaction_id,
      'pending_interaction.interaction_id': last.data.interaction_id,
    },
  },
);
console.log(`small run: ${small.last_seq} events; big run: ${seq} events`);

async function measure(runId, operation) {
  const times = [];
  for (let i = 0; i < samples; i++) {
    const started = performance.now();
    await operation(runId, i);
    times.push(performance.now() - started);
  }
  return latency(times);
}
// From the middle of the big run's log; from the start of the small one's (it has only ~6 events).
const pageAfter = new Map([
  [small.workflow_run_id, 0],
  [big.workflow_run_id, Math.floor(seq / 2)],
]);
const operations = {
  'read state': (runId) => call(`/v1/runs/${runId}/state`),
  [`read a page of ${pageSize} events`]: (runId) =>
    call(`/v1/runs/${runId}/events?after_seq=${pageAfter.get(runId)}&limit=${pageSize}`),
  'advance one module (retry)': (runId) =>
    call(`/v1/runs/${runId}/retry`, {
      method: 'POST',
      body: JSON.stringify({ step_id: 's', module_name: 'set' }),
    }),
};
const figures = [];
for (const [name, operation] of Object.entries(operations)) {
  await measure(small.workflow_run_id, operation); // warm-up
  const smallStats = await measure(small.workflow_run_id, operation);
  const bigStats = await measure(big.workflow_run_id, operation);
  figures.push(
    figure({
      measure: `${name}, median`,
      unit: 'ms',
      stepwise: bigStats.median_ms,
      baseline: smallStats.median_ms,
      baselineLabel: `run of ${small.last_seq} events`,
      better: 'lower',
      target: { ratioAtMost: 1.5, text: '≤ 1.5' },
      extra: { big: bigStats, small: smallStats },
    }),
  );
}
emitResult({
  scenario: 'scale',
  title: `Scale: a run of ${seq} events against one of ${small.last_seq}`,
  params: { big_events: seq, small_events: small.last_seq, samples, page_size: pageSize, quick },
  figures,
});

await stack.close();
process.exit(0);
