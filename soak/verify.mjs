// The end of a soak: once the system is quiet, every run is checked against the invariants of
// docs/architecture.md, straight from MongoDB. Each broken invariant is one violation, named with
// the run it concerns.
import { replayEvents, runFieldsOf } from '@stepwise/shared';

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

/** Checks every run; answers the violations found and what was checked. */
export async function verifyRuns(models, acknowledgedAnswers) {
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
  return { violations, checked };
}
