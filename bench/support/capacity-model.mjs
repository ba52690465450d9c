// The capacity model of bench/capacity.mjs: from measured CPU µs per operation in each process kind,
// what one core of each sustains, what a mix of operations costs per run, which part saturates
// first, and how many processes of each kind a load needs at a planned CPU share (headroom).
// Pure arithmetic on the figures it is given: no constants of its own but the mix and headroom.

/** The process kinds the model sizes: the services scale out; each store is one process here. */
export const serviceKinds = ['gateway', 'runner', 'resolver'];
export const storeKinds = ['redis', 'mongo'];
export const processKinds = [...serviceKinds, ...storeKinds];

const round = (value, digits = 1) => {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
};

/** Operations per second one fully busy core of a kind sustains: 1e6 / (CPU µs per operation). */
export function perCoreRates(perOp) {
  return Object.fromEntries(
    Object.entries(perOp).map(([op, cost]) => [
      op,
      Object.fromEntries(
        processKinds.map((kind) => [kind, cost[kind] > 0 ? Math.round(1e6 / cost[kind]) : null]),
      ),
    ]),
  );
}

/**
 * A mix's figure per run, for each key of the per-operation figures (process kinds, key families):
 * one start (to the first question), one answer (to the end), `reads` reads of the run, `bundles`
 * bundle submissions (a new version every 1/bundles runs) and, when the mix's runs have more (or
 * fewer) module completions than the measured workflow's, the difference at the measured average
 * per module completion (an upper bound: it carries a run's own costs too).
 */
export function perRunOf({ start, answer, read, submit, completion }, mix, measuredCompletions) {
  const extra = mix.completions - measuredCompletions;
  const keys = new Set([start, answer, read, submit, completion].flatMap((v) => Object.keys(v)));
  return Object.fromEntries(
    [...keys].map((key) => [
      key,
      Math.max(
        0,
        (start[key] ?? 0) +
          (answer[key] ?? 0) +
          mix.reads * (read[key] ?? 0) +
          mix.bundles * (submit[key] ?? 0) +
          extra * (completion[key] ?? 0),
      ),
    ]),
  );
}

/**
 * How Redis's work spreads over a cluster's masters: its share by key family (`redisTagUsec`: the
 * per-operation Redis CPU µs by hash tag family, as perRunOf takes them). One hash tag lives on one
 * master, so the busiest tag (a queue) stays on one; pub/sub (`channel`) is broadcast to every
 * master of a cluster, so it is counted on each.
 */
export function redisSpread(redisTagUsec, mix, measuredCompletions) {
  const usec = perRunOf(redisTagUsec, mix, measuredCompletions);
  const total = Object.values(usec).reduce((t, v) => t + v, 0);
  if (!(total > 0)) return null;
  const shares = Object.fromEntries(Object.entries(usec).map(([tag, v]) => [tag, v / total]));
  const [busiest] = Object.entries(shares)
    .filter(([tag]) => tag.startsWith('{'))
    .sort((a, b) => b[1] - a[1])[0] ?? ['none'];
  return {
    shares: Object.fromEntries(Object.entries(shares).map(([tag, v]) => [tag, round(v, 3)])),
    busiest_tag: busiest,
    busiest_share: shares[busiest] ?? 0,
    broadcast_share: shares.channel ?? 0,
  };
}

/**
 * Redis masters a load needs at the headroom: the broadcast share on each, the rest spread, the
 * busiest tag whole on one. Null when that tag alone (with the broadcast) is past the headroom:
 * more masters cannot help, its queue would have to be split.
 */
function redisMasters(cores, spread, headroom) {
  if (!spread) return Math.max(1, Math.ceil(cores / headroom));
  const broadcast = cores * spread.broadcast_share;
  if (cores * spread.busiest_share + broadcast > headroom) return null;
  return Math.max(1, Math.ceil((cores - broadcast) / (headroom - broadcast)));
}

/**
 * The model: per-run cost, runs/s one core of each kind sustains (at 100 % and at the headroom),
 * the order in which kinds saturate, and the processes (services), core shares (stores) and Redis
 * masters each load needs.
 */
export function capacityModel({
  perOp,
  perCompletion,
  redisTagUsec,
  measuredCompletions,
  mix,
  headroom,
  loads,
}) {
  const perRun = perRunOf({ ...perOp, completion: perCompletion }, mix, measuredCompletions);
  const runsPerCore = Object.fromEntries(
    processKinds.map((kind) => [kind, perRun[kind] > 0 ? 1e6 / perRun[kind] : Infinity]),
  );
  const order = [...processKinds].sort((a, b) => runsPerCore[a] - runsPerCore[b]);
  const firstStore = order.find((kind) => storeKinds.includes(kind));
  const spread = redisTagUsec ? redisSpread(redisTagUsec, mix, measuredCompletions) : null;
  // A Redis Cluster's ceiling: the busiest tag's master (with the broadcast) at a full core.
  const clusterCeiling = spread
    ? 1e6 / (perRun.redis * (spread.busiest_share + spread.broadcast_share))
    : Infinity;
  const sizing = loads.map((runsPerSecond) => {
    const cores = Object.fromEntries(
      processKinds.map((kind) => [kind, (runsPerSecond * perRun[kind]) / 1e6]),
    );
    return {
      runs_per_s: runsPerSecond,
      processes: Object.fromEntries(
        serviceKinds.map((kind) => [kind, Math.max(1, Math.ceil(cores[kind] / headroom))]),
      ),
      cores: Object.fromEntries(processKinds.map((kind) => [kind, round(cores[kind], 3)])),
      store_percent_of_one_core: Object.fromEntries(
        storeKinds.map((kind) => [kind, round(cores[kind] * 100)]),
      ),
      redis_masters: redisMasters(cores.redis, spread, headroom),
    };
  });
  return {
    mix,
    headroom,
    cpu_us_per_run: Object.fromEntries(
      processKinds.map((kind) => [kind, Math.round(perRun[kind])]),
    ),
    per_core_ops_per_s: perCoreRates(perOp),
    runs_per_s_per_core: Object.fromEntries(
      processKinds.map((kind) => [kind, finite(runsPerCore[kind])]),
    ),
    runs_per_s_per_core_at_headroom: Object.fromEntries(
      processKinds.map((kind) => [kind, finite(runsPerCore[kind] * headroom)]),
    ),
    saturation_order: order,
    // One process of each kind: the first to saturate sets the ceiling.
    one_of_each: { bottleneck: order[0], runs_per_s: finite(runsPerCore[order[0]]) },
    // Services scale out; the stores set the ceiling: one Redis runs its commands on one thread,
    // MongoDB (a multi-threaded server) takes a core per so many runs/s.
    scaled_out: {
      first_store: firstStore,
      one_redis_runs_per_s: finite(runsPerCore.redis),
      mongo_runs_per_s_per_core: finite(runsPerCore.mongo),
    },
    redis_cluster: spread && {
      ...spread,
      busiest_share: round(spread.busiest_share, 3),
      broadcast_share: round(spread.broadcast_share, 3),
      ceiling_runs_per_s: finite(clusterCeiling),
      ceiling_runs_per_s_at_headroom: finite(clusterCeiling * headroom),
    },
    sizing,
  };
}

const finite = (value) => (Number.isFinite(value) ? round(value) : null);

const pad = (cells, widths) => cells.map((cell, i) => String(cell).padEnd(widths[i])).join('  ');

/** A plain-text table (for the scenario's output). */
export function textTable(header, rows) {
  const widths = header.map((_, i) =>
    Math.max(...[header, ...rows].map((r) => String(r[i]).length)),
  );
  return [
    pad(header, widths),
    pad(
      widths.map((w) => '-'.repeat(w)),
      widths,
    ),
    ...rows.map((r) => pad(r, widths)),
  ].join('\n');
}

const show = (value) => (value === null || value === undefined ? '–' : String(value));

/** The model as text: what the scenario prints. */
export function describeModel(model, { measuredCompletions }) {
  const { mix, headroom } = model;
  const lines = [];
  lines.push(
    `Mix per run: 1 start (to its first question), 1 answer (to the end), ${mix.reads} reads, ` +
      `${mix.bundles} bundle submissions; ${mix.completions} module completions` +
      (mix.completions === measuredCompletions
        ? ' (as measured)'
        : ` (measured ${measuredCompletions}; the difference at the engine workflow's cost per completion)`) +
      `. Processes planned at ${Math.round(headroom * 100)} % of a core.`,
  );
  lines.push(
    textTable(
      ['', ...processKinds],
      [
        ['CPU µs per run', ...processKinds.map((k) => show(model.cpu_us_per_run[k]))],
        ['runs/s per core (100 %)', ...processKinds.map((k) => show(model.runs_per_s_per_core[k]))],
        [
          `runs/s per core (${Math.round(headroom * 100)} %)`,
          ...processKinds.map((k) => show(model.runs_per_s_per_core_at_headroom[k])),
        ],
      ],
    ),
  );
  lines.push(
    `Saturates first (per core): ${model.saturation_order.join(' < ')}. One process of each: ${model.one_of_each.bottleneck} at ${model.one_of_each.runs_per_s} runs/s. ` +
      `Gateways, runners and resolvers scale out; then one Redis (one thread) is full at ${model.scaled_out.one_redis_runs_per_s} runs/s, ` +
      `and MongoDB needs a core per ${model.scaled_out.mongo_runs_per_s_per_core} runs/s.`,
  );
  const cluster = model.redis_cluster;
  if (cluster)
    lines.push(
      `Redis's CPU by key family: ${Object.entries(cluster.shares)
        .map(([tag, share]) => `${tag} ${Math.round(share * 100)} %`)
        .join(', ')}. In a Redis Cluster, ${cluster.busiest_tag} stays on one master and pub/sub ` +
        `reaches every master: more masters help until that master is full, at ${cluster.ceiling_runs_per_s} runs/s ` +
        `(${cluster.ceiling_runs_per_s_at_headroom} at ${Math.round(headroom * 100)} %); past it, its queue must be split.`,
    );
  lines.push(
    textTable(
      [
        'runs/s',
        'gateways',
        'runners',
        'resolvers',
        'Redis % of a core',
        'Redis masters',
        'MongoDB % of a core',
      ],
      model.sizing.map((s) => [
        s.runs_per_s,
        s.processes.gateway,
        s.processes.runner,
        s.processes.resolver,
        s.store_percent_of_one_core.redis,
        show(s.redis_masters),
        s.store_percent_of_one_core.mongo,
      ]),
    ),
  );
  return lines.join('\n');
}
