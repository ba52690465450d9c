// What bench/capacity.mjs reads around each measured window: CPU seconds of every process (the
// services, the stores, the bench and the wire relay), requests each process sent to each store
// (bench/support/wire-counter.mjs) and Redis's own command statistics. Windows are compared with an
// idle window of the same stack, so that timers and blocked workers are not charged to operations.
import { cpuSecondsOf } from './process-stack.mjs';
import { medianOf } from './report.mjs';

/** The MongoDB driver's own requests (handshakes, server monitoring), not an operation's. */
const monitoring = new Set(['hello', 'ismaster', 'isMaster', 'legacy OP_QUERY']);
/** Requests that are not a round trip of their own: a transaction's opening and queued commands. */
const notATrip = (key) => key === 'multi' || key.startsWith('in multi: ');

/** Redis `INFO commandstats`: calls and µs per command (commands run inside scripts included). */
export async function redisCommandStats(redis) {
  const text = await redis.info('commandstats');
  const stats = {};
  for (const match of text.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) {
    if (match[1] === 'info') continue; // our own
    stats[match[1]] = { calls: Number(match[2]), usec: Number(match[3]) };
  }
  return stats;
}

/**
 * Samples of everything a window measures. `pids` names processes ({ gateway: 123, … }); the wire
 * counter answers requests by pid, which are named the same way (others: `other`).
 */
export function windowSampler({ pids, counter, redis }) {
  const names = new Map(Object.entries(pids).map(([name, pid]) => [String(pid), name]));
  const sample = async () => {
    const [wire, stats] = await Promise.all([
      counter ? counter.snapshot() : {},
      redisCommandStats(redis),
    ]);
    const trips = {};
    for (const [pid, byStore] of Object.entries(wire)) {
      const into = (trips[names.get(pid) ?? 'other'] ??= {});
      for (const [store, counts] of Object.entries(byStore)) {
        const target = (into[store] ??= {});
        for (const [key, n] of Object.entries(counts)) target[key] = (target[key] ?? 0) + n;
      }
    }
    return {
      at: performance.now(),
      cpu: Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, cpuSecondsOf(pid)])),
      trips,
      redis: stats,
    };
  };
  return {
    sample,
    /** What happened between two samples. */
    delta: (before, after) => ({
      seconds: (after.at - before.at) / 1000,
      cpu: combine(after.cpu, before.cpu, -1),
      trips: combine(after.trips, before.trips, -1),
      redis: combine(after.redis, before.redis, -1),
    }),
  };
}

/** `a + k·b`, leaf by leaf over `a`'s keys (a missing leaf of `b` counts 0). */
export function combine(a, b, k) {
  if (typeof a === 'number') return a + k * (typeof b === 'number' ? b : 0);
  return Object.fromEntries(
    Object.entries(a).map(([key, value]) => [key, combine(value, b?.[key], k)]),
  );
}

const mapLeaves = (tree, f) =>
  typeof tree === 'number'
    ? f(tree)
    : Object.fromEntries(Object.entries(tree).map(([key, value]) => [key, mapLeaves(value, f)]));

/** A window less the idle background over as long (never below zero), per operation. */
export function perOperation(window, idle, operations) {
  const scale = window.seconds / idle.seconds;
  const net = (a, b) => mapLeaves(combine(a, b, -scale), (v) => Math.max(0, v) / operations);
  return {
    cpu: net(window.cpu, idle.cpu),
    trips: net(window.trips, idle.trips),
    redis: net(window.redis, idle.redis),
  };
}

const sum = (values) => values.reduce((total, v) => total + v, 0);
const round = (value, digits) => Math.round(value * 10 ** digits) / 10 ** digits;

/**
 * One operation kind's figures from a window: CPU µs in each process, round trips each service
 * sends to each store (monitoring requests left out), the Redis commands executed (script
 * bodies included) and Redis's own µs, the wall-clock rate.
 */
export function summarize(window, idle, operations, services) {
  const each = perOperation(window, idle, operations);
  const tripsOf = (who, store) =>
    sum(
      Object.entries(each.trips[who]?.[store] ?? {})
        .filter(([key]) => !monitoring.has(key.split(' ')[0]) && !notATrip(key))
        .map(([, n]) => n),
    );
  const commands = (who, store) =>
    Object.fromEntries(
      Object.entries(each.trips[who]?.[store] ?? {})
        .filter(([key, n]) => !monitoring.has(key.split(' ')[0]) && n >= 0.05)
        .sort((x, y) => y[1] - x[1])
        .map(([key, n]) => [key, round(n, 2)]),
    );
  return {
    operations,
    seconds: round(window.seconds, 2),
    ops_per_s: round(operations / window.seconds, 1),
    cpu_us: mapLeaves(each.cpu, (s) => Math.round(s * 1e6)),
    redis_round_trips: Object.fromEntries(services.map((s) => [s, round(tripsOf(s, 'redis'), 2)])),
    mongo_round_trips: Object.fromEntries(services.map((s) => [s, round(tripsOf(s, 'mongo'), 2)])),
    // Redis round trips by the family of keys they touch (a cluster spreads families, not keys).
    redis_round_trips_by_tag: tripsByTag(each.trips, services),
    // Redis's command time by key family: each request at its command's mean µs (commandstats; a
    // script's at the script's), for how much of Redis's work one hash tag's master would carry.
    redis_usec_by_tag: usecByTag(each.trips, each.redis, services),
    redis_commands_executed: round(sum(Object.values(each.redis).map((c) => c.calls)), 2),
    redis_usec: round(sum(Object.values(each.redis).map((c) => c.usec)), 1),
    // Redis's own count, by command (a script's commands included, under their own names).
    redis_commandstats: Object.fromEntries(
      Object.entries(each.redis)
        .filter(([, c]) => c.calls >= 0.05)
        .sort((x, y) => y[1].calls - x[1].calls)
        .map(([command, c]) => [command, { calls: round(c.calls, 2), usec: round(c.usec, 1) }]),
    ),
    commands: Object.fromEntries(
      services.map((s) => [s, { redis: commands(s, 'redis'), mongo: commands(s, 'mongo') }]),
    ),
  };
}

function tripsByTag(trips, services) {
  const byTag = {};
  for (const service of services)
    for (const [key, n] of Object.entries(trips[service]?.redis ?? {})) {
      if (notATrip(key)) continue;
      const tag = key.split(' ')[1] ?? 'none';
      byTag[tag] = (byTag[tag] ?? 0) + n;
    }
  return Object.fromEntries(
    Object.entries(byTag)
      .filter(([, n]) => n >= 0.05)
      .sort((x, y) => y[1] - x[1])
      .map(([tag, n]) => [tag, round(n, 2)]),
  );
}

function usecByTag(trips, stats, services) {
  const byTag = {};
  for (const service of services)
    for (const [key, n] of Object.entries(trips[service]?.redis ?? {})) {
      const [command, tag = 'none'] = key.replace(/^in multi: /, '').split(' ');
      const stat = stats[command];
      if (!stat?.calls) continue;
      byTag[tag] = (byTag[tag] ?? 0) + (n * stat.usec) / stat.calls;
    }
  return Object.fromEntries(
    Object.entries(byTag)
      .sort((x, y) => y[1] - x[1])
      .map(([tag, usec]) => [tag, round(usec, 1)]),
  );
}

/** The median of each leaf over several trees of the same shape (a missing leaf counts 0). */
export function medianTree(trees) {
  const first = trees[0];
  if (typeof first === 'number') return medianOf(trees.map((t) => (typeof t === 'number' ? t : 0)));
  const keys = [...new Set(trees.flatMap((t) => Object.keys(t ?? {})))];
  return Object.fromEntries(
    keys.map((key) => {
      const values = trees.map((t) => t?.[key]).filter((v) => v !== undefined);
      const leaves = typeof values[0] === 'number';
      return [key, leaves ? medianOf(trees.map((t) => t?.[key] ?? 0)) : medianTree(values)];
    }),
  );
}

/**
 * Redis's CPU per operation by key family: its command time by family (commandstats), and the rest
 * of its CPU (reading requests, writing replies) in proportion to the family's round trips.
 */
export function redisCpuByTag(cost) {
  const commandTime = Object.values(cost.redis_usec_by_tag).reduce((t, v) => t + v, 0);
  const trips = Object.values(cost.redis_round_trips_by_tag).reduce((t, v) => t + v, 0);
  const io = Math.max(0, (cost.cpu_us.redis ?? commandTime) - commandTime);
  const tags = new Set([
    ...Object.keys(cost.redis_usec_by_tag),
    ...Object.keys(cost.redis_round_trips_by_tag),
  ]);
  return Object.fromEntries(
    [...tags].map((tag) => [
      tag,
      (cost.redis_usec_by_tag[tag] ?? 0) +
        (trips > 0 ? (io * (cost.redis_round_trips_by_tag[tag] ?? 0)) / trips : 0),
    ]),
  );
}
