// What both soaks (soak/run.mjs, soak/cluster.mjs) share about their options and their reports.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';

const root = new URL('..', import.meta.url).pathname;

/** `--name N` from the command line as a number, else `fallback`. */
export function option(name, fallback) {
  const at = process.argv.indexOf(`--${name}`);
  return at === -1 ? fallback : Number(process.argv[at + 1]);
}

/**
 * The options both soaks take, from the command line: the length of the load (`quickMinutes` with
 * `--quick`), how often a fault comes, how many people and how many of them run side effects, and
 * the seed everything random is drawn from; plus the soak's state folder and a timestamped log.
 */
export function soakSettings({ quickMinutes, folder }) {
  const quick = process.argv.includes('--quick');
  const userCount = option('users', 12);
  const startedAt = new Date();
  return {
    quick,
    minutes: option('minutes', quick ? quickMinutes : 10),
    faultEverySeconds: option('fault-every', quick ? 10 : 20),
    userCount,
    effectUserCount: Math.min(userCount, option('effect-users', Math.ceil(userCount / 3))),
    seed: option('seed', Math.floor(Math.random() * 2 ** 31)),
    startedAt,
    dir: `${root}.local/${folder}-${startedAt.getTime()}`,
    log: (message) =>
      console.log(`[${((Date.now() - startedAt) / 1000).toFixed(1).padStart(6)} s] ${message}`),
  };
}

export function countBy(values) {
  const counts = {};
  for (const v of values) counts[v] = (counts[v] ?? 0) + 1;
  return counts;
}

/** p50/p99/max of a list of milliseconds, rounded. */
export function percentiles(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p) =>
    Math.round(sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0);
  return { p50: at(50), p99: at(99), max: Math.round(sorted.at(-1) ?? 0) };
}

/** The load a LoadRecord (soak/users.mjs) held over `loadSeconds`. */
export function loadFigures(record, loadSeconds) {
  return {
    seconds: Math.round(loadSeconds),
    commands_accepted: record.acceptedCommands,
    commands_per_second: Math.round((record.acceptedCommands / loadSeconds) * 10) / 10,
    requests_answered: record.latencies.length,
    latency_ms: percentiles(record.latencies),
    actions: Object.fromEntries(record.actions),
    statuses: Object.fromEntries([...record.statuses].sort()),
    failed_requests: Object.fromEntries([...record.failures].sort()),
  };
}

/** Writes the report as `soak/results/<started at>[-tag].json`; answers its path. */
export function writeReport(report, startedAt, tag) {
  mkdirSync(`${root}soak/results`, { recursive: true });
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  const file = `soak/results/${stamp}${tag ? `-${tag}` : ''}.json`;
  writeFileSync(`${root}${file}`, `${JSON.stringify(report, null, 2)}\n`);
  return file;
}

/** The lines every soak prints about load, effects and what was checked. */
export function summaryLines(report) {
  const { load, checked } = report;
  return [
    `load held: ${load.commands_accepted} commands accepted in ${load.seconds} s (${load.commands_per_second}/s), request p50 ${load.latency_ms.p50} ms, p99 ${load.latency_ms.p99} ms`,
    `actions: ${JSON.stringify(load.actions)}`,
    `failed requests (during faults): ${JSON.stringify(load.failed_requests)}`,
    `faults injected: ${report.faults.count} ${JSON.stringify(report.faults.by_kind)}`,
    `unplanned exits (restarted like a supervisor would): ${JSON.stringify(report.crashes)}`,
    `checked: ${checked.runs} runs, ${checked.events} events, ${checked.commands} commands, ${checked.answers} acknowledged answers`,
    `effects: ${checked.effects.llm_calls} LLM calls for ${checked.effects.llm_completed} completed, ${checked.effects.llm_failed} failed and ${checked.effects.llm_interrupted} interrupted api.llm attempts; ${checked.effects.tokens} tokens records; ${checked.effects.fetch_calls} render calls; ${checked.effects.artifacts} artifacts checked`,
  ];
}

/**
 * What the services' JSON logs say: lines at level error or worse, counted by message; and what
 * the runners' sweeps re-enqueued from MongoDB (commands whose job was lost or is late, running
 * runs nobody drives).
 */
export function readServiceLogs(dir, names) {
  const errors = {};
  const sweeps = { sweeps: 0, commands: 0, runs: 0 };
  const matches = [];
  for (const name of names) {
    let text = '';
    try {
      text = readFileSync(`${dir}/${name}.log`, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n')) {
      if (!line.startsWith('{')) continue;
      let entry;
      try {
        entry = JSON.parse(line);
      } catch {
        continue;
      }
      if (entry.msg === 'sweep re-enqueued work') {
        sweeps.sweeps += 1;
        sweeps.commands += entry.commands ?? 0;
        sweeps.runs += entry.runs ?? 0;
      }
      if ((entry.level ?? 0) >= 50) {
        const key = `${name.replace(/-\d+$/, '')}: ${entry.msg}${entry.err?.message ? `: ${entry.err.message.slice(0, 160)}` : ''}`;
        errors[key] = (errors[key] ?? 0) + 1;
      }
      if (/CROSSSLOT/.test(line)) matches.push({ service: name, line: line.slice(0, 400) });
    }
  }
  return { errors, sweeps, crossslot: matches };
}
