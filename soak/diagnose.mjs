// Figures about how long accepted commands waited, from MongoDB once the system is quiet: not
// invariants (verify.mjs checks those) but what a person felt during the faults, and where to
// look when a run stalled. A command number a run took but never stored (its acceptor failed
// between the two) holds the run's later commands back until the run has taken no number for
// 30 s (docs/reliability.md); such numbers are counted here.

/** Settle times (accepted → finished) and the numbers runs took but never stored. */
export async function commandFigures(models, slowest = 5) {
  const settle = [];
  const byRun = new Map();
  for await (const c of models.runCommands
    .find({}, { workflow_run_id: 1, seq: 1, type: 1, status: 1, accepted_at: 1, finished_at: 1 })
    .lean()
    .cursor()) {
    const list = byRun.get(c.workflow_run_id) ?? [];
    list.push(c);
    byRun.set(c.workflow_run_id, list);
    if (c.finished_at && c.accepted_at) settle.push(c.finished_at - c.accepted_at);
  }
  const runs = await models.runs
    .find({}, { workflow_run_id: 1, command_seq: 1, applied_command_seq: 1 })
    .lean();
  const lostNumbers = [];
  for (const run of runs) {
    const stored = new Set((byRun.get(run.workflow_run_id) ?? []).map((c) => c.seq));
    for (let seq = 1; seq <= (run.command_seq ?? 0); seq++)
      if (!stored.has(seq)) lostNumbers.push({ run: run.workflow_run_id, seq });
  }
  const waits = [];
  for (const [runId, list] of byRun)
    for (const c of list)
      if (c.finished_at && c.accepted_at)
        waits.push({
          run: runId,
          seq: c.seq,
          type: c.type,
          status: c.status,
          accepted_at: c.accepted_at,
          waited_ms: c.finished_at - c.accepted_at,
        });
  waits.sort((a, b) => b.waited_ms - a.waited_ms);
  // The whole line of commands of the runs that waited longest, to read what held them.
  const stalledRuns = {};
  for (const { run } of waits.slice(0, slowest)) {
    if (stalledRuns[run] || waits.find((w) => w.run === run).waited_ms < 20_000) continue;
    stalledRuns[run] = (byRun.get(run) ?? [])
      .sort((a, b) => a.seq - b.seq)
      .map((c) => ({
        seq: c.seq,
        type: c.type,
        status: c.status,
        accepted_at: c.accepted_at,
        finished_at: c.finished_at,
      }));
  }
  return {
    settle,
    lostNumbers,
    slowest: waits.slice(0, slowest),
    stalledRuns,
    over60s: waits.filter((w) => w.waited_ms > 60_000).length,
  };
}
