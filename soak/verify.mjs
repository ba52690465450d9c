// The end of a soak: once the system is quiet, every run is checked against the invariants of
// docs/architecture.md and of the effects spec (side effects once per attempt), straight
// from MongoDB and the fake provider's books. Each broken invariant is one violation, named with
// the run it concerns. `verifyEffects` is also what scripts/effects-check.mjs and the effects
// tests use, so the rules are written down once.
import { replayEvents, runFieldsOf } from '@stepwise/shared';
import { downloadFromBucket, readResolvedWorkflow, sha256Hex } from '@stepwise/shared/node';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const settledCommand = new Set(['applied', 'rejected']);

/** Waits until no run is `running` and no command is pending (or `timeoutMs` passes). */
export async function waitForQuiet(models, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [running, pending] = await Promise.all([
      models.runs.countDocuments({ status: 'running' }),
      models.runCommands.countDocuments({ status: 'pending' }),
    ]);
    if ((running === 0 && pending === 0) || Date.now() > deadline) return { running, pending };
    await sleep(1_000);
  }
}

function visibleTo(branch, events) {
  const until = new Map(branch.lineage.map((a) => [a.branch_id, a.until_seq]));
  return events.filter(
    (e) =>
      e.branch_id === branch.branch_id ||
      (until.has(e.branch_id) && e.seq <= until.get(e.branch_id)),
  );
}

const comparable = (snapshot) =>
  JSON.stringify({
    branch_id: snapshot.branch_id,
    status: snapshot.status,
    state: snapshot.state,
    cursor: snapshot.cursor,
    pending_interaction: snapshot.pending_interaction,
    as_of_seq: snapshot.as_of_seq,
  });

/**
 * Checks every run; answers the violations found and what was checked. With `effects` (the fake
 * provider's calls), every run's side effects are checked too (`verifyEffects`, allowing for the
 * crashes a soak causes).
 */
export async function verifyRuns(models, acknowledgedAnswers, effects) {
  const violations = [];
  const violation = (runId, what) => violations.push({ run: runId, what });
  const checked = { runs: 0, events: 0, commands: 0, answers: acknowledgedAnswers.length };

  // Each collection is read once and grouped here: per-run queries would each be a range scan on
  // the MongoDB stand-in (which indexes exact matches only), hours for a ten-minute soak.
  const group = async (model, sort) => {
    const byRun = new Map();
    for await (const doc of model.find({}).sort(sort).lean().cursor()) {
      const list = byRun.get(doc.workflow_run_id) ?? [];
      list.push(doc);
      byRun.set(doc.workflow_run_id, list);
    }
    return byRun;
  };
  const [runs, eventsByRun, commandsByRun, branchesByRun] = await Promise.all([
    models.runs.find({}).lean(),
    group(models.events, { workflow_run_id: 1, seq: 1 }),
    group(models.runCommands, { workflow_run_id: 1, seq: 1 }),
    group(models.branches, { workflow_run_id: 1 }),
  ]);
  const answersByRun = new Map();
  for (const answer of acknowledgedAnswers) {
    const list = answersByRun.get(answer.run_id) ?? [];
    list.push(answer.interaction_id);
    answersByRun.set(answer.run_id, list);
  }

  for (const run of runs) {
    const runId = run.workflow_run_id;
    checked.runs += 1;
    const events = eventsByRun.get(runId) ?? [];
    const commands = commandsByRun.get(runId) ?? [];
    const branches = branchesByRun.get(runId) ?? [];
    checked.events += events.length;
    checked.commands += commands.length;

    // The log: seq 1..last_seq without a gap or a repeat, every event id once.
    if (events.some((e, i) => e.seq !== i + 1)) violation(runId, 'seq has a gap or a repeat');
    if (events.length !== run.last_seq)
      violation(runId, `log holds ${events.length} events, the run says last_seq ${run.last_seq}`);
    if (new Set(events.map((e) => e.event_id)).size !== events.length)
      violation(runId, 'an event id appears twice');

    // Nothing stuck.
    if (run.status === 'running') violation(runId, 'still running after the system went quiet');

    // The snapshot (and the run's fields) equal a replay of the active branch's visible events.
    const branch = branches.find((b) => b.branch_id === run.active_branch_id);
    if (!branch) violation(runId, `active branch ${run.active_branch_id} has no record`);
    else {
      const replayed = replayEvents(branch.branch_id, visibleTo(branch, events));
      if (comparable(replayed) !== comparable(run.snapshot))
        violation(runId, 'snapshot differs from a replay of the log');
      const fields = runFieldsOf(run.snapshot);
      if (
        JSON.stringify(fields) !==
        JSON.stringify({
          status: run.status,
          current_step: run.current_step,
          current_module: run.current_module,
          pending_interaction: run.pending_interaction,
          error: run.error,
        })
      )
        violation(runId, "the run's fields differ from its snapshot");
    }
    // Every branch_created event has its branch record.
    for (const e of events.filter((x) => x.event_type === 'branch_created'))
      if (!branches.some((b) => b.branch_id === e.data.branch_id))
        violation(runId, `branch ${e.data.branch_id} has no record`);

    // Commands: each settled, applied in one commit at most (its events one contiguous block).
    for (const command of commands) {
      if (!settledCommand.has(command.status))
        violation(runId, `command ${command.seq} still ${command.status}`);
      const seqs = events.filter((e) => e.command_id === command.command_id).map((e) => e.seq);
      if (seqs.length > 0 && seqs.at(-1) - seqs[0] + 1 !== seqs.length)
        violation(
          runId,
          `command ${command.seq}'s events are not one commit (seqs ${seqs.join(',')})`,
        );
      if (command.status === 'rejected' && seqs.length > 0)
        violation(runId, `rejected command ${command.seq} has events`);
    }
    if (run.applied_command_seq > run.command_seq)
      violation(runId, 'applied more commands than were accepted');
    if (commands.some((c) => c.seq > run.applied_command_seq))
      violation(runId, 'an accepted command was never applied');

    // No interaction is answered twice on one branch, and every answer the server said it applied
    // is in the run's log. (On some branch: a branch accepted ahead of the answer may have forked
    // and re-asked the same question, which the answer then applied to; a fork may also answer it
    // again, legitimately, on its own branch.)
    const responded = events.filter((e) => e.event_type === 'interaction_responded');
    const perBranch = responded.map((e) => `${e.branch_id}/${e.data.interaction_id}`);
    if (new Set(perBranch).size !== perBranch.length)
      violation(runId, 'an interaction was answered twice on one branch');
    const answered = new Set(responded.map((e) => e.data.interaction_id));
    for (const interactionId of answersByRun.get(runId) ?? [])
      if (!answered.has(interactionId))
        violation(runId, `acknowledged answer to ${interactionId} is not in the log`);
  }
  for (const runId of answersByRun.keys())
    if (!runs.some((r) => r.workflow_run_id === runId))
      violation(runId, 'acknowledged run is missing');
  if (effects) {
    // Stuck runs and pending commands were checked above; a soak kills processes, so an attempt
    // may have been interrupted before its call left.
    const found = await verifyEffects(models, { ...effects, crashes: true, settled: false });
    violations.push(...found.violations);
    checked.effects = found.totals;
  }
  return { violations, checked };
}

/** Module types with effects outside the run (effects.md §2), and what each one calls. */
const externalModules = new Set(['api.llm', 'api.fetch', 'artifact.save', 'history.keywords']);
/**
 * Failure codes raised before a module's request leaves (bad inputs, nothing configured, a refused
 * destination): such an attempt never reached the provider.
 */
const failedBeforeCall = new Set([
  'INPUT_INVALID',
  'TEMPLATE_ERROR',
  'LLM_NOT_CONFIGURED',
  'MODULE_UNAVAILABLE',
  'DESTINATION_REFUSED',
  'POSITION_NOT_IN_VERSION',
]);
const settledTokenStatuses = new Set(['completed', 'lost', 'failed']);

/** A version's module ids by (step, module name), for telling which module an event concerns. */
async function moduleIdsOf(models, versionIds) {
  const byVersion = new Map();
  const versions = await models.versions.collection
    .find({ workflow_version_id: { $in: [...versionIds] } })
    .toArray();
  for (const version of versions) {
    const workflow = await readResolvedWorkflow(models.versions.db, version);
    const ids = new Map();
    for (const step of workflow.steps ?? [])
      for (const module of step.modules ?? [])
        ids.set(`${step.step_id}\u0000${module.name}`, module.module_id);
    byVersion.set(version.workflow_version_id, ids);
  }
  return (event) =>
    byVersion.get(event.workflow_version_id)?.get(`${event.step_id}\u0000${event.module_name}`) ??
    null;
}

async function groupByRun(collection, filter, sort) {
  const byRun = new Map();
  for await (const doc of collection.find(filter).sort(sort)) {
    const list = byRun.get(doc.workflow_run_id) ?? [];
    list.push(doc);
    byRun.set(doc.workflow_run_id, list);
  }
  return byRun;
}

/** An effectful module's attempts as the log tells them. */
function attemptsIn(events, moduleIdOf, moduleId) {
  const of = events.filter((e) => e.module_name !== null && moduleIdOf(e) === moduleId);
  const count = (type) => of.filter((e) => e.event_type === type).length;
  const failed = of.filter((e) => e.event_type === 'module_failed');
  const reachedFailures = failed.filter((e) => !failedBeforeCall.has(e.data?.error?.code)).length;
  return {
    started: count('module_started'),
    completed: count('module_completed'),
    failed: reachedFailures,
    interrupted: count('module_interrupted'),
  };
}

/**
 * Checks the rules of effects.md for runs, from MongoDB and the fake provider's `calls` (each with
 * `kind` 'chat' or 'render', the `marker` of the run it was for and its `idempotencyKey`):
 * - provider calls == attempts in the log that reached the provider (completed, failed after
 *   the call, interrupted); with `crashes` (processes were killed): completed + failed <= calls
 *   <= completed + failed + interrupted, since an attempt may be interrupted before its call;
 * - every call carried an Idempotency-Key of one of the run's `module_started` events, and has a
 *   `tokens` record of that key; `tokens` records == calls (with `crashes`: >= calls, <= attempts);
 *   every record settled (`completed`, `lost`, `failed`), none `pending`; no two `completed` ones
 *   share a key; every record's key is a `module_started` key of the run;
 * - the same for api.fetch calls to the render endpoint (no tokens there);
 * - every artifact referenced by a committed `module_completed` has its record and stored bytes,
 *   and the bytes hash to the sha256 in the log;
 * - with `settled` (default): no run `running`, no command `pending`.
 * `runIds` limits the check (default every run); `markerOf(run)` names a run's marker (default its
 * project name). Answers the violations and a row of numbers per run.
 */
export async function verifyEffects(models, options) {
  const { calls, runIds, crashes = false, settled = true } = options;
  const markerOf = options.markerOf ?? ((run) => run.project_name);
  const violations = [];
  const rows = [];
  const filter = runIds ? { workflow_run_id: { $in: [...runIds] } } : {};
  const [runs, eventsByRun, tokensByRun, commandsByRun, artifacts] = await Promise.all([
    models.runs.collection.find(filter).toArray(),
    groupByRun(models.events.collection, filter, { workflow_run_id: 1, seq: 1 }),
    groupByRun(models.tokens.collection, filter, { workflow_run_id: 1, created_at: 1 }),
    groupByRun(models.runCommands.collection, filter, { workflow_run_id: 1, seq: 1 }),
    models.artifacts.collection.find(filter).toArray(),
  ]);
  const artifactById = new Map(artifacts.map((a) => [a.artifact_id, a]));
  const versionIds = new Set();
  for (const events of eventsByRun.values())
    for (const e of events) versionIds.add(e.workflow_version_id);
  const moduleIdOf = await moduleIdsOf(models, versionIds);
  const callsByMarker = new Map();
  for (const call of calls) {
    if (call.marker === null || call.marker === undefined) continue;
    const list = callsByMarker.get(call.marker) ?? [];
    list.push(call);
    callsByMarker.set(call.marker, list);
  }
  if (runIds)
    for (const runId of runIds)
      if (!runs.some((r) => r.workflow_run_id === runId))
        violations.push({ run: runId, what: 'run is missing' });

  for (const run of runs) {
    const runId = run.workflow_run_id;
    const violation = (what) => violations.push({ run: runId, what });
    const events = eventsByRun.get(runId) ?? [];
    const tokens = tokensByRun.get(runId) ?? [];
    const marked = callsByMarker.get(markerOf(run)) ?? [];
    const chats = marked.filter((c) => c.kind === 'chat');
    const renders = marked.filter((c) => c.kind === 'render');
    const llm = attemptsIn(events, moduleIdOf, 'api.llm');
    const fetch = attemptsIn(events, moduleIdOf, 'api.fetch');

    // Idempotency keys: one per attempt (module_started), never reused.
    const startedKeys = new Set();
    for (const e of events.filter((x) => x.event_type === 'module_started')) {
      const key = e.data?.idempotency_key;
      const moduleId = moduleIdOf(e);
      if (typeof key !== 'string') {
        if (externalModules.has(moduleId) || e.data?.effects === 'external')
          violation(`module_started of ${moduleId} at seq ${e.seq} has no idempotency_key`);
        continue;
      }
      if (startedKeys.has(key)) violation(`idempotency key ${key} on two module_started events`);
      startedKeys.add(key);
    }

    // Provider calls against the attempts that reached the provider.
    const compare = (what, count, attempts) => {
      const done = attempts.completed + attempts.failed;
      const reached = done + attempts.interrupted;
      const detail = `completed ${attempts.completed}, failed ${attempts.failed}, interrupted ${attempts.interrupted}`;
      if (!crashes && count !== reached)
        violation(
          `${what}: ${count} provider calls for ${reached} attempts that reached it (${detail})`,
        );
      if (crashes && count > reached)
        violation(
          `${what}: ${count} provider calls, more than the ${reached} attempts recorded (${detail})`,
        );
      if (crashes && count < done)
        violation(
          `${what}: ${count} provider calls, fewer than the ${done} attempts that ended (${detail})`,
        );
    };
    compare('api.llm', chats.length, llm);
    compare('api.fetch', renders.length, fetch);
    for (const [what, list] of [
      ['api.llm', chats],
      ['api.fetch', renders],
    ]) {
      const unkeyed = list.filter((c) => !c.idempotencyKey).length;
      if (unkeyed > 0) violation(`${what}: ${unkeyed} provider calls carried no Idempotency-Key`);
      for (const call of list)
        if (call.idempotencyKey && !startedKeys.has(call.idempotencyKey))
          violation(
            `${what}: a call's Idempotency-Key ${call.idempotencyKey} is no module_started key of the run`,
          );
    }

    // Usage: a record per call, settled, keyed by the attempt.
    if (!crashes && tokens.length !== chats.length)
      violation(`${tokens.length} tokens records for ${chats.length} provider calls`);
    if (crashes && tokens.length < chats.length)
      violation(`${tokens.length} tokens records for ${chats.length} provider calls`);
    const llmAttempts = llm.completed + llm.failed + llm.interrupted;
    if (crashes && tokens.length > llmAttempts)
      violation(`${tokens.length} tokens records for ${llmAttempts} api.llm attempts recorded`);
    const recordsByKey = new Map();
    const completedKeys = new Map();
    for (const record of tokens) {
      const key = record.idempotency_key;
      if (!settledTokenStatuses.has(record.status))
        violation(
          record.status === undefined
            ? 'tokens record without a status'
            : `tokens record ${key}#${record.call_index} still ${record.status}`,
        );
      if (typeof key !== 'string') {
        violation('tokens record without an idempotency key');
        continue;
      }
      if (!startedKeys.has(key))
        violation(`tokens record with idempotency key ${key}, no module_started of this run`);
      recordsByKey.set(key, (recordsByKey.get(key) ?? 0) + 1);
      if (record.status === 'completed') completedKeys.set(key, (completedKeys.get(key) ?? 0) + 1);
    }
    for (const [key, count] of completedKeys)
      if (count > 1) violation(`${count} completed tokens records share idempotency key ${key}`);
    const callsByKey = new Map();
    for (const call of chats)
      if (call.idempotencyKey)
        callsByKey.set(call.idempotencyKey, (callsByKey.get(call.idempotencyKey) ?? 0) + 1);
    for (const [key, count] of callsByKey)
      if (count > (recordsByKey.get(key) ?? 0))
        violation(
          `${count} provider calls with key ${key}, ${recordsByKey.get(key) ?? 0} tokens records`,
        );

    // Artifacts named by committed events: stored, and the bytes the log describes.
    let artifactsChecked = 0;
    let artifactMismatches = 0;
    for (const e of events.filter((x) => x.event_type === 'module_completed')) {
      const outputs = e.data?.outputs;
      if (typeof outputs?.artifact_id !== 'string' || typeof outputs.sha256 !== 'string') continue;
      artifactsChecked += 1;
      const mismatch = (what) => {
        artifactMismatches += 1;
        violation(`artifact ${outputs.artifact_id} (seq ${e.seq}) ${what}`);
      };
      const record = artifactById.get(outputs.artifact_id);
      if (!record) {
        mismatch('has no record');
        continue;
      }
      let bytes;
      try {
        bytes = await downloadFromBucket(models.artifacts.db, 'artifacts', record.file_id);
      } catch {
        mismatch('has no stored bytes');
        continue;
      }
      const stored = sha256Hex(bytes);
      if (stored !== outputs.sha256)
        mismatch(
          `holds bytes hashing to ${stored.slice(0, 12)}, the log says ${outputs.sha256.slice(0, 12)}`,
        );
      else if (record.sha256 !== outputs.sha256)
        mismatch(
          `record says sha256 ${String(record.sha256).slice(0, 12)}, the log ${outputs.sha256.slice(0, 12)}`,
        );
    }

    if (settled) {
      if (run.status === 'running') violation('still running after the work settled');
      for (const command of commandsByRun.get(runId) ?? [])
        if (command.status === 'pending') violation(`command ${command.seq} still pending`);
    }

    const statuses = {};
    for (const record of tokens) {
      const status = record.status ?? 'none';
      statuses[status] = (statuses[status] ?? 0) + 1;
    }
    rows.push({
      run: runId,
      marker: markerOf(run),
      status: run.status,
      llm_calls: chats.length,
      llm: llm,
      fetch_calls: renders.length,
      fetch,
      tokens: tokens.length,
      token_statuses: statuses,
      artifacts: artifactsChecked,
      artifact_mismatches: artifactMismatches,
    });
  }
  const sum = (pick) => rows.reduce((total, row) => total + pick(row), 0);
  const totals = {
    runs: rows.length,
    llm_calls: sum((r) => r.llm_calls),
    llm_completed: sum((r) => r.llm.completed),
    llm_failed: sum((r) => r.llm.failed),
    llm_interrupted: sum((r) => r.llm.interrupted),
    fetch_calls: sum((r) => r.fetch_calls),
    tokens: sum((r) => r.tokens),
    artifacts: sum((r) => r.artifacts),
    artifact_mismatches: sum((r) => r.artifact_mismatches),
  };
  return { violations, rows, totals };
}
