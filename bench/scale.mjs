// Scale: a run with 100,000 events against one with 10, on the same stack in the same run. Reads
// the state, reads a page of events from the middle, and advances one module (a retry), each many
// times; prints medians, p99s and the ratio big/small, which should stay near 1 (nothing a run does
// grows with its history). Needs MONGO_URL, REDIS_URL and a build.
//   node bench/scale.mjs [--events N] [--samples N]
import { newId } from '@stepwise/shared';
import { startBenchStack } from './support/in-process-stack.mjs';

const arg = (name, fallback) =>
  process.argv.includes(name) ? Number(process.argv[process.argv.indexOf(name) + 1]) : fallback;
const bigEvents = arg('--events', 100_000);
const samples = arg('--samples', 200);
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

const stats = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    median_ms: sorted[Math.floor(sorted.length / 2)],
    p99_ms: sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))],
  };
};
async function measure(runId, operation) {
  const times = [];
  for (let i = 0; i < samples; i++) {
    const started = performance.now();
    await operation(runId, i);
    times.push(performance.now() - started);
  }
  return stats(times);
}
const operations = {
  'read state': (runId) => call(`/v1/runs/${runId}/state`),
  'read a page of 100 events': async (runId) => {
    const run = await call(`/v1/runs/${runId}`);
    return call(`/v1/runs/${runId}/events?after_seq=${Math.floor(run.last_seq / 2)}&limit=100`);
  },
  'advance one module (retry)': (runId) =>
    call(`/v1/runs/${runId}/retry`, {
      method: 'POST',
      body: JSON.stringify({ step_id: 's', module_name: 'set' }),
    }),
};
const results = {};
for (const [name, operation] of Object.entries(operations)) {
  await measure(small.workflow_run_id, operation); // warm-up
  const smallStats = await measure(small.workflow_run_id, operation);
  const bigStats = await measure(big.workflow_run_id, operation);
  results[name] = {
    small: smallStats,
    big: bigStats,
    median_ratio: Math.round((bigStats.median_ms / smallStats.median_ms) * 100) / 100,
  };
  console.log(
    `${name}: 10 events ${smallStats.median_ms.toFixed(2)} ms (p99 ${smallStats.p99_ms.toFixed(2)}), ${seq} events ${bigStats.median_ms.toFixed(2)} ms (p99 ${bigStats.p99_ms.toFixed(2)}), ratio ${results[name].median_ratio}`,
  );
}
console.log(JSON.stringify({ scenario: 'scale', big_events: seq, samples, results }));

await stack.close();
process.exit(0);
