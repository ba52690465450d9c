// `npm run effects:check -- [--runs N] [--runners N] [--delay-ms D] [--stagger-ms S]
// [--settle-ms S] [--verbose]`: the check of the effects spec ("How it is checked": side effects
// once per attempt, the log accounting for every one) against real processes. A fake
// OpenAI-compatible provider on loopback counts every call by the run's marker; gateway, resolver
// and runner processes (their own database and queue prefix) run a workflow text input → api.llm →
// api.fetch → artifact.save → confirm. N runs wait at the text input; each is sent its answer and,
// at the same moment, a second command (a cancel, a retry of the first step, the same answer
// again). Once everything settles, every run's side effects are compared with its log
// (soak/verify.mjs `verifyEffects`). All three cases run with one runner process and with two
// (`--runners N` runs only N). Prints a table and exits 1 on any violation. Needs `npm run build`.
import { randomBytes } from 'node:crypto';
import { startProcessStack } from '../bench/support/process-stack.mjs';
import { verifyEffects } from '../soak/verify.mjs';
import { effectfulWorkflow, startFakeProvider } from '../test/support/fake-provider.mjs';

const option = (name, fallback) => {
  const at = process.argv.indexOf(`--${name}`);
  return at === -1 ? fallback : Number(process.argv[at + 1]);
};
const runCount = option('runs', 30);
const runnerCounts = process.argv.includes('--runners') ? [option('runners', 1)] : [1, 2];
// A small hold on each provider answer keeps a call open while the second command arrives, as a
// real provider's latency would.
const delayMs = option('delay-ms', 50);
// Longest wait for the runs to settle. Shorter than the runners' sweep (60 s by default), on
// purpose: a command left for the sweeper is a defect (effects.md §1), not a late success.
const settleMs = option('settle-ms', 45_000);
// The second command leaves up to this long after the answer (random per run; 0: together). With
// a spread, some cancels and retries land while the chain runs rather than before the answer.
const staggerMs = option('stagger-ms', 0);
const verbose = process.argv.includes('--verbose');

process.env.MONGO_URL ??= 'mongodb://127.0.0.1:37017/stepwise';
process.env.REDIS_URL ??= 'redis://127.0.0.1:16379';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const started = Date.now();
const log = (message) =>
  console.error(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s] ${message}`);

/** A request that answers {status, body} whatever the status (the cases expect 409s). */
function caller(base, apiKey) {
  return async (path, { method = 'GET', json } = {}) => {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${apiKey}`,
        ...(json === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: json === undefined ? undefined : JSON.stringify(json),
      signal: AbortSignal.timeout(60_000),
    });
    const text = await response.text();
    let body = null;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      body = { raw: text.slice(0, 200) };
    }
    return { status: response.status, body };
  };
}

/** The second command of each case, sent with the answer (`answer` is the answer request). */
const cases = [
  {
    name: 'cancel',
    label: 'answer + cancel',
    second: (run) => ({ path: `/v1/runs/${run.workflow_run_id}/cancel?wait_ms=30000` }),
    // The cancel is always applicable (the run is waiting or running), so it ends cancelled.
    finalStatuses: ['cancelled'],
  },
  {
    name: 'retry',
    label: 'answer + retry',
    second: (run) => ({
      path: `/v1/runs/${run.workflow_run_id}/retry?wait_ms=30000`,
      json: { step_id: 'ask' },
    }),
    // Whichever goes first, the run ends waiting for a person (the topic again, or the review).
    finalStatuses: ['awaiting_input'],
  },
  {
    name: 'twice',
    label: 'same answer twice',
    second: (run, answer) => answer(run),
    finalStatuses: ['awaiting_input'],
    // Effects.md §7: exactly one is applied, the other gets 409.
    expectOneConflict: true,
  },
];

/** Waits until the runs are quiet: none running, no command pending, no call open, no change. */
async function waitForSettled(models, provider, runIds) {
  const deadline = Date.now() + settleMs;
  let last = '';
  let stableSince = Date.now();
  for (;;) {
    const [runs, pending] = await Promise.all([
      models.runs.collection
        .find({ workflow_run_id: { $in: runIds } }, { projection: { status: 1, last_seq: 1 } })
        .toArray(),
      models.runCommands.collection.countDocuments({
        workflow_run_id: { $in: runIds },
        status: 'pending',
      }),
    ]);
    const running = runs.filter((r) => r.status === 'running').length;
    const fingerprint = JSON.stringify([
      runs.map((r) => r.last_seq),
      pending,
      provider.calls.length,
      provider.inFlight(),
    ]);
    if (fingerprint !== last) {
      last = fingerprint;
      stableSince = Date.now();
    }
    // Quiet for 2 s: a drain that lost its race may still be running modules after the winner
    // committed, and its effects are exactly what is being looked for.
    const quiet = running === 0 && pending === 0 && provider.inFlight() === 0;
    if (quiet && Date.now() - stableSince >= 2_000) return { running, pending, timedOut: false };
    if (Date.now() > deadline) return { running, pending, timedOut: true };
    await sleep(250);
  }
}

async function runCase(stack, provider, versionId, testCase, runners) {
  const call = caller(stack.base, stack.apiKey);
  const tag = randomBytes(2).toString('hex');
  const violations = [];
  const violation = (run, what) => violations.push({ run, what });

  // The runs, each waiting at its text input.
  const runs = await Promise.all(
    Array.from({ length: runCount }, async (_, i) => {
      const created = await call('/v1/runs?wait_ms=30000', {
        method: 'POST',
        json: {
          workflow_version_id: versionId,
          project_name: `fx-${testCase.name}-${runners}r-${tag}-${i}`,
        },
      });
      if (created.status !== 201 || created.body.status !== 'awaiting_input')
        throw new Error(`starting a run: ${created.status} ${JSON.stringify(created.body)}`);
      return created.body;
    }),
  );
  const runIds = runs.map((r) => r.workflow_run_id);

  // Every run gets both commands at the same moment.
  const answer = (run) => ({
    path: `/v1/runs/${run.workflow_run_id}/interactions/${run.pending_interaction.interaction_id}?wait_ms=30000`,
    json: { response: { value: `a clip about cats, take ${run.project_name}` } },
  });
  const send = ({ path, json }) => call(path, { method: 'POST', json }).catch((error) => error);
  const replies = await Promise.all(
    runs.map((run) =>
      Promise.all([
        send(answer(run)),
        sleep(Math.random() * staggerMs).then(() => send(testCase.second(run, answer))),
      ]),
    ),
  );
  const statuses = new Map();
  replies.forEach(([first, second], i) => {
    const run = runs[i];
    for (const [which, reply] of [
      ['answer', first],
      ['second', second],
    ]) {
      if (reply instanceof Error) {
        violation(run.workflow_run_id, `${which} request failed: ${reply.message}`);
        continue;
      }
      const key = `${which} ${reply.status}`;
      statuses.set(key, (statuses.get(key) ?? 0) + 1);
      if (reply.status >= 500)
        violation(
          run.workflow_run_id,
          `${which} answered ${reply.status}: ${JSON.stringify(reply.body)}`,
        );
    }
    if (testCase.expectOneConflict && !(first instanceof Error) && !(second instanceof Error)) {
      const pair = [first.status, second.status].sort().join('+');
      if (pair !== '200+409' && pair !== '202+409')
        violation(run.workflow_run_id, `the same answer twice was answered ${pair}`);
    }
  });

  const settled = await waitForSettled(stack.models, provider, runIds);
  if (settled.timedOut)
    log(
      `  not settled after ${settleMs} ms: ${settled.running} running, ${settled.pending} commands pending`,
    );
  const effects = await verifyEffects(stack.models, { calls: provider.calls, runIds });
  violations.push(...effects.violations);

  for (const row of effects.rows)
    if (!testCase.finalStatuses.includes(row.status))
      violation(row.run, `ended ${row.status}, expected ${testCase.finalStatuses.join(' or ')}`);
  if (testCase.expectOneConflict) {
    const responded = await stack.models.events.collection
      .aggregate([
        { $match: { workflow_run_id: { $in: runIds }, event_type: 'interaction_responded' } },
        { $group: { _id: '$workflow_run_id', count: { $sum: 1 } } },
      ])
      .toArray();
    for (const { _id: runId, count } of responded)
      if (count !== 1) violation(runId, `the topic was answered ${count} times in the log`);
  }
  return {
    case: testCase.label,
    runners,
    runs: runCount,
    answersApplied: replies.filter(([first]) => first.status === 200 || first.status === 202)
      .length,
    statuses: Object.fromEntries([...statuses].sort()),
    totals: effects.totals,
    violations,
    runsWithViolations: new Set(violations.map((v) => v.run)).size,
  };
}

const provider = await startFakeProvider({ delayMs });
const results = [];
try {
  for (const runners of runnerCounts) {
    log(`starting gateway, resolver and ${runners} runner process(es)`);
    const stack = await startProcessStack({
      label: 'effects',
      services: ['gateway', 'resolver', ...Array.from({ length: runners }, () => 'runner')],
      env: {
        LLM_BASE_URL: provider.baseUrl,
        OUTBOUND_ALLOWED_HOSTS: '127.0.0.1',
        RUNNER_CONCURRENCY: '8',
        // The lease of effects.md §1 (ignored by a runner that has none).
        RUN_LEASE_MS: '5000',
      },
    });
    try {
      const submitted = await caller(stack.base, stack.apiKey)('/v1/workflows', {
        method: 'POST',
        json: effectfulWorkflow({ renderUrl: provider.renderUrl }),
      });
      if (submitted.status !== 201 && submitted.status !== 200)
        throw new Error(`submitting the workflow: ${JSON.stringify(submitted)}`);
      for (const testCase of cases) {
        log(`${testCase.label}, ${runners} runner(s), ${runCount} runs`);
        const result = await runCase(
          stack,
          provider,
          submitted.body.workflow_version_id,
          testCase,
          runners,
        );
        log(
          `  replies ${JSON.stringify(result.statuses)}; ${result.violations.length} violations in ${result.runsWithViolations} runs`,
        );
        results.push(result);
      }
    } finally {
      await stack.close();
    }
  }
} finally {
  await provider.close();
}

const header = [
  'second command',
  'runners',
  'answers applied',
  'LLM calls',
  'committed api.llm completions',
  'tokens records',
  'artifact mismatches',
  'violations',
];
const rows = results.map((r) => [
  r.case,
  String(r.runners),
  String(r.answersApplied),
  String(r.totals.llm_calls),
  String(r.totals.llm_completed),
  String(r.totals.tokens),
  String(r.totals.artifact_mismatches),
  `${r.violations.length} (in ${r.runsWithViolations} of ${r.runs} runs)`,
]);
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
const line = (cells) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
console.log(
  [
    '',
    `effects check: ${runCount} runs per case, answer and second command sent ${staggerMs > 0 ? `up to ${staggerMs} ms apart` : 'at once'}`,
    '',
    line(header),
    `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`,
    ...rows.map(line),
    '',
  ].join('\n'),
);

// The violations by kind (ids and numbers stripped), then a few examples of each.
const kinds = new Map();
for (const result of results)
  for (const v of result.violations) {
    const kind = `${result.case}, ${result.runners} runner(s): ${v.what
      .replace(/\b(run|evt|cmd|art|int)_[0-9a-f-]+(:\d+)?/g, '<id>')
      .replace(/\b[0-9a-f]{12}\b/g, '<hash>')
      .replace(/\d+/g, 'N')}`;
    const entry = kinds.get(kind) ?? { count: 0, examples: [] };
    entry.count += 1;
    if (entry.examples.length < (verbose ? 5 : 1)) entry.examples.push(`${v.run}: ${v.what}`);
    kinds.set(kind, entry);
  }
if (kinds.size > 0) {
  console.log('violations by kind:');
  for (const [kind, { count, examples }] of kinds) {
    console.log(`  ${String(count).padStart(4)} × ${kind}`);
    for (const example of examples) console.log(`         e.g. ${example}`);
  }
}
const total = results.reduce((sum, r) => sum + r.violations.length, 0);
console.log(`\n${total === 0 ? 'no violations' : `${total} violations`}`);
process.exit(total === 0 ? 0 : 1);
