// Versions at scale (versions.md), against real gateway, resolver and runner processes:
// 1. The impact report's first page (100 runs) with 10,000 unfinished runs of one template spread
//    over 3 versions and 3 positions, against a page of as many runs from GET /v1/runs, same user
//    and same store, the two requests alternating; medians and their ratio.
// 2. A batch migration of N runs waiting at a question onto a new version (POST …/migrations,
//    policy continue_with_new, followed until completed), in runs/s, against N identical runs
//    moved one by one by a few clients through POST /v1/runs/{id}/resume/confirm; in rounds that
//    alternate which goes first.
// Needs MONGO_URL, REDIS_URL and a build.
//   node bench/versions.mjs [--quick] [--runs N] [--samples N] [--migrate N] [--rounds N] [--clients N]
import { newId } from '@stepwise/shared';
import { startProcessStack } from './support/process-stack.mjs';
import {
  emitResult,
  figure,
  inParallel,
  latency,
  option,
  quick,
  round,
  sleep,
} from './support/report.mjs';

const impactRuns = option('runs', { quick: 1_000, full: 10_000 });
const samples = option('samples', { quick: 15, full: 50 });
const migratedRuns = option('migrate', { quick: 60, full: 300 });
const migrationRounds = option('rounds', { quick: 2, full: 3 });
const clients = option('clients', { quick: 4, full: 4 });
const pageSize = 100;
const warmupRuns = 4;

const stack = await startProcessStack({ label: 'versions' });
const { call, models, base, apiKey } = stack;

// One template of three steps, each a Liquid `transform.set` and then a question: the three places
// a run can wait. Each version rewrites some texts of the one before, so a run's diff against the
// newest has changes before, at and after its position depending on where it waits.
const texts = {
  topic: 'A short film about {{ run.project_name }}',
  angle: 'Which angle should “{{ state.topic }}” take?',
  outline: [
    'Outline for {{ state.topic }}',
    '1. Open on {{ state.angle }}',
    '2. Three scenes, one idea each',
    '3. Close on the question we started with',
  ].join('\n'),
  approve: 'Approve this outline?\n{{ state.outline }}',
  summary: [
    '{{ state.topic | upcase }}',
    'Angle: {{ state.angle }}',
    'Outline approved: {{ state.approved }}',
  ].join('\n'),
  publish: 'Publish “{{ state.topic }}” now?',
};
const edits = [
  {},
  { topic: 'A two-minute film about {{ run.project_name }}' },
  { approve: 'Does this outline work?\n{{ state.outline }}\n(you can edit it later)' },
  {
    outline: texts.outline.replace('Three scenes', 'Four scenes'),
    summary: `${texts.summary}\nLength: two minutes`,
  },
];

function definition(workflowId, text) {
  const set = (name, value, to) => ({
    module_id: 'transform.set',
    name,
    inputs: { value },
    outputs_to_state: { value: to },
  });
  return {
    workflow_id: workflowId,
    steps: [
      {
        step_id: 'brief',
        modules: [
          set('topic', text.topic, 'topic'),
          {
            module_id: 'user.text_input',
            name: 'angle',
            inputs: { prompt: text.angle },
            outputs_to_state: { value: 'angle' },
          },
        ],
      },
      {
        step_id: 'draft',
        modules: [
          set('outline', text.outline, 'outline'),
          {
            module_id: 'user.confirm',
            name: 'approve',
            inputs: { message: text.approve },
            outputs_to_state: { confirmed: 'approved' },
          },
        ],
      },
      {
        step_id: 'publish',
        modules: [
          set('summary', text.summary, 'summary'),
          { module_id: 'user.confirm', name: 'publish', inputs: { message: text.publish } },
        ],
      },
    ],
  };
}

/** Submits the template's versions, each edit on top of the ones before; answers their ids. */
async function submitVersions(workflowId, count) {
  const ids = [];
  let text = { ...texts };
  for (const edit of edits.slice(0, count)) {
    text = { ...text, ...edit };
    const version = await call('/v1/workflows', {
      method: 'POST',
      body: JSON.stringify(definition(workflowId, text)),
    });
    ids.push(version.workflow_version_id);
  }
  if (new Set(ids).size !== count) throw new Error(`${workflowId}: versions are not distinct`);
  return ids;
}

const positions = [
  { step_id: 'brief', module_name: 'angle' },
  { step_id: 'draft', module_name: 'approve' },
  { step_id: 'publish', module_name: 'publish' },
];
const answers = {
  angle: { value: 'the maker’s view' },
  approve: { confirmed: true },
  publish: { confirmed: true },
};

/** A real run on `versionId`, answered until it waits at `positions[at]`. */
async function runWaitingAt(versionId, at, project) {
  let run = await call('/v1/runs', {
    method: 'POST',
    body: JSON.stringify({ workflow_version_id: versionId, project_name: project }),
  });
  for (let i = 0; i < at; i++) {
    run = await call(
      `/v1/runs/${run.workflow_run_id}/interactions/${run.pending_interaction.interaction_id}`,
      { method: 'POST', body: JSON.stringify({ response: answers[run.current_module] }) },
    );
  }
  const want = positions[at];
  if (
    run.status !== 'awaiting_input' ||
    run.current_step !== want.step_id ||
    run.current_module !== want.module_name
  )
    throw new Error(`run ${run.workflow_run_id} is ${run.status} at ${run.current_module}`);
  return run;
}

// ---- 1. The impact report's first page against a page of GET /v1/runs.

const impactVersions = await submitVersions('versions-impact', 4);
const target = impactVersions[3];
const seeds = [];
for (const versionId of impactVersions.slice(0, 3))
  for (let at = 0; at < positions.length; at++)
    seeds.push(await runWaitingAt(versionId, at, `seed-${seeds.length}`));

// The rest are copies of the seeds' documents (the runner wrote those): new ids, their own project
// names and creation times a second apart, so that every page mixes the 9 (version, position)s.
// Only run documents: neither read measured here looks at events or branches.
const seedDocuments = await models.runs.collection
  .find({ workflow_run_id: { $in: seeds.map((run) => run.workflow_run_id) } })
  .toArray();
const started = Date.now() - impactRuns * 1000;
const copies = [];
for (let i = 0; i < impactRuns - seeds.length; i++) {
  const { _id, ...seed } = seedDocuments[i % seedDocuments.length];
  const at = new Date(started + i * 1000);
  const pending = { ...seed.pending_interaction, interaction_id: newId('interaction') };
  const branchId = newId('branch');
  copies.push({
    ...seed,
    workflow_run_id: newId('run'),
    active_branch_id: branchId,
    project_name: `impact-${i}`,
    pending_interaction: pending,
    snapshot: { ...seed.snapshot, branch_id: branchId, pending_interaction: pending },
    outbox: [],
    created_at: at,
    updated_at: at,
  });
}
for (let i = 0; i < copies.length; i += 1_000)
  await models.runs.collection.insertMany(copies.slice(i, i + 1_000));
console.log(
  `${impactRuns} unfinished runs of versions-impact over 3 versions × 3 positions (${seeds.length} run through the API, the rest copies)`,
);

/** One timed GET as the bench user: milliseconds to the whole body, and the body. */
async function timedGet(path) {
  const begun = performance.now();
  const response = await fetch(`${base}${path}`, {
    headers: { authorization: `Bearer ${apiKey}` },
  });
  const text = await response.text();
  const ms = performance.now() - begun;
  if (!response.ok) throw new Error(`${path}: ${response.status} ${text.slice(0, 500)}`);
  return { ms, bytes: Buffer.byteLength(text), body: JSON.parse(text) };
}

const impactPath = `/v1/templates/versions-impact/versions/${target}/impact?limit=${pageSize}`;
const listPath = `/v1/runs?limit=${pageSize}`;
const impactFirst = await timedGet(impactPath);
const listFirst = await timedGet(listPath);
const combinations = new Set(
  impactFirst.body.items.map((item) => `${item.current_version_id} ${item.position?.module_name}`),
);
if (impactFirst.body.items.length !== pageSize || !impactFirst.body.next_cursor)
  throw new Error(`the impact report's first page has ${impactFirst.body.items.length} runs`);
if (combinations.size !== 9)
  throw new Error(`the first page mixes ${combinations.size} (version, position)s, not 9`);
if (listFirst.body.items.length !== pageSize)
  throw new Error(`GET /v1/runs gave ${listFirst.body.items.length} runs`);

for (let i = 0; i < 3; i++) await Promise.all([timedGet(impactPath), timedGet(listPath)]); // warm-up
const impactTimes = [];
const listTimes = [];
for (let i = 0; i < samples; i++) {
  // Alternating which goes first, so neither always meets the other's leftovers.
  const order = i % 2 === 0 ? ['impact', 'list'] : ['list', 'impact'];
  for (const which of order) {
    if (which === 'impact') impactTimes.push((await timedGet(impactPath)).ms);
    else listTimes.push((await timedGet(listPath)).ms);
  }
}
const impact = latency(impactTimes);
const list = latency(listTimes);
console.log(
  `impact report page of ${pageSize}: ${impact.median_ms} ms (p99 ${impact.p99_ms}), ${impactFirst.bytes} bytes; GET /v1/runs page of ${pageSize}: ${list.median_ms} ms (p99 ${list.p99_ms}), ${listFirst.bytes} bytes`,
);

// ---- 2. A batch migration against a client moving the runs one by one.

// On a store without the 10,000 runs: on the MongoDB stand-in an update whose filter adds a field
// to the run id scans the collection (~20 ms a commit at 10,000 runs), which would measure the
// stand-in rather than the two ways of moving runs.
await models.runs.collection.deleteMany({
  workflow_template_id: seedDocuments[0].workflow_template_id,
});

const [fromVersion, toVersion] = await submitVersions('versions-migrate', 2);

/** `count` real runs on the first version, each waiting at its first question. */
async function waitingRuns(count, prefix) {
  const created = await inParallel(
    Array.from({ length: count }, (_, i) => i),
    16,
    (i) =>
      call('/v1/runs?wait_ms=0', {
        method: 'POST',
        body: JSON.stringify({ workflow_version_id: fromVersion, project_name: `${prefix}-${i}` }),
      }),
  );
  const ids = created.map((run) => run.workflow_run_id);
  await untilAtRest(ids, fromVersion);
  return ids;
}

/** Waits until every one of the runs waits at its first question on `versionId`. */
async function untilAtRest(ids, versionId) {
  for (;;) {
    const runs = await models.runs
      .find({ workflow_run_id: { $in: ids } })
      .select({
        status: 1,
        current_version_id: 1,
        current_module: 1,
        command_seq: 1,
        applied_command_seq: 1,
      })
      .lean();
    if (runs.some((run) => run.status === 'error')) throw new Error('a run failed');
    const resting = runs.filter(
      (run) =>
        run.status === 'awaiting_input' &&
        run.current_module === 'angle' &&
        run.current_version_id === versionId &&
        run.applied_command_seq === run.command_seq,
    );
    if (resting.length === ids.length) return;
    await sleep(50);
  }
}

/** Moves the runs with one migration; answers its view once completed. */
async function migrate(ids) {
  const created = await call('/v1/templates/versions-migrate/migrations', {
    method: 'POST',
    body: JSON.stringify({
      to_version_id: toVersion,
      policy: 'continue_with_new',
      filter: { run_ids: ids },
    }),
  });
  for (;;) {
    const view = await call(
      `/v1/templates/versions-migrate/migrations/${created.migration_id}?limit=1`,
    );
    if (view.status === 'completed') {
      if (view.counts.switched !== ids.length)
        throw new Error(`migration: ${JSON.stringify(view.counts)}`);
      return view;
    }
    await sleep(50);
  }
}

/** Moves the runs one by one, `clients` at a time, as a client would after VERSION_MISMATCH. */
async function confirmEach(ids) {
  await inParallel(ids, clients, (id) =>
    call(`/v1/runs/${id}/resume/confirm`, {
      method: 'POST',
      body: JSON.stringify({ choice: 'continue_with_new', submitted_version_id: toVersion }),
    }),
  );
  // A confirm answered 202 (not at rest within wait_ms) is not done yet: count it when it is.
  await untilAtRest(ids, toVersion);
}

async function timed(work) {
  const begun = performance.now();
  await work();
  return (performance.now() - begun) / 1000;
}

const [warmMigrated, warmConfirmed, batch, oneByOne] = [
  await waitingRuns(warmupRuns, 'warm-migration'),
  await waitingRuns(warmupRuns, 'warm-confirm'),
  await waitingRuns(migratedRuns, 'migration'),
  await waitingRuns(migratedRuns, 'confirm'),
];
console.log(`${2 * migratedRuns} runs of versions-migrate waiting at their first question`);
await migrate(warmMigrated);
await confirmEach(warmConfirmed);
// In rounds, the two ways alternating which goes first, so that a busy moment of the machine
// falls on both; each rate is all its runs over all its rounds' time.
const rounds = [];
for (let r = 0; r < migrationRounds; r++) {
  const slice = (ids) =>
    ids.slice(
      Math.floor((r * ids.length) / migrationRounds),
      Math.floor(((r + 1) * ids.length) / migrationRounds),
    );
  const timing = { runs: slice(batch).length };
  const ways = {
    migration: () => migrate(slice(batch)),
    confirm: () => confirmEach(slice(oneByOne)),
  };
  for (const way of r % 2 === 0 ? ['confirm', 'migration'] : ['migration', 'confirm'])
    timing[`${way}_seconds`] = round(await timed(ways[way]), 3);
  rounds.push(timing);
}
const total = (key) => rounds.reduce((sum, timing) => sum + timing[key], 0);
const migrationSeconds = total('migration_seconds');
const confirmSeconds = total('confirm_seconds');
const migrationRate = migratedRuns / migrationSeconds;
const confirmRate = migratedRuns / confirmSeconds;
console.log(
  `${migratedRuns} runs in ${migrationRounds} rounds: batch migration ${migrationSeconds.toFixed(2)} s (${migrationRate.toFixed(1)} runs/s); one by one at ${clients} clients ${confirmSeconds.toFixed(2)} s (${confirmRate.toFixed(1)} runs/s); ${JSON.stringify(rounds)}`,
);

emitResult({
  scenario: 'versions',
  title: 'Versions at scale: the impact report and batch migrations',
  params: {
    impact_runs: impactRuns,
    page_size: pageSize,
    samples,
    migrated_runs: migratedRuns,
    migration_rounds: migrationRounds,
    clients,
    quick,
  },
  figures: [
    figure({
      measure: `impact report, first page of ${pageSize} (${impactRuns.toLocaleString('en')} runs, 3 versions × 3 positions), median`,
      unit: 'ms',
      stepwise: impact.median_ms,
      baseline: list.median_ms,
      baselineLabel: `GET /v1/runs?limit=${pageSize}`,
      better: 'lower',
      target: { ratioAtMost: 3, text: '≤ 3×' },
      extra: {
        impact,
        list,
        impact_bytes: impactFirst.bytes,
        list_bytes: listFirst.bytes,
      },
    }),
    figure({
      measure: `batch migration of ${migratedRuns} waiting runs (continue_with_new)`,
      unit: 'runs/s',
      stepwise: round(migrationRate, 1),
      baseline: round(confirmRate, 1),
      baselineLabel: `resume/confirm one by one, ${clients} clients`,
      better: 'higher',
      extra: {
        migration_seconds: round(migrationSeconds, 2),
        confirm_seconds: round(confirmSeconds, 2),
        rounds,
      },
    }),
  ],
});

await stack.close();
process.exit(0);
