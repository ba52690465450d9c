// What every benchmark scenario shares: its command-line options, summary statistics, and the one
// line (`BENCH_RESULT {json}`) through which it hands its figures to `bench/run.mjs`.

export const quick = process.argv.includes('--quick');

/** A numeric option `--name N`, or the quick or full default. */
export function option(name, { quick: quickValue, full }) {
  const at = process.argv.indexOf(`--${name}`);
  if (at !== -1) return Number(process.argv[at + 1]);
  return quick ? quickValue : full;
}

export function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

export function medianOf(values) {
  return percentile(values, 50);
}

/** Median and p99 of samples in milliseconds. */
export function latency(samples) {
  return {
    median_ms: round(medianOf(samples)),
    p99_ms: round(percentile(samples, 99)),
    n: samples.length,
  };
}

export function round(value, digits = 3) {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

/**
 * One figure: Stepwise's value next to its baseline's, and their ratio (Stepwise ÷ baseline).
 * `better` says which way is good, so the table can say whether a target is met.
 */
export function figure({
  measure,
  unit,
  stepwise,
  baseline,
  baselineLabel,
  better,
  target,
  extra,
}) {
  const ratio = round(stepwise / baseline, 3);
  let met = null;
  if (target?.ratioAtLeast !== undefined) met = ratio >= target.ratioAtLeast;
  if (target?.ratioAtMost !== undefined) met = ratio <= target.ratioAtMost;
  if (target?.valueAtMost !== undefined) met = stepwise <= target.valueAtMost;
  return {
    measure,
    unit,
    stepwise: round(stepwise),
    baseline: round(baseline),
    baseline_label: baselineLabel,
    ratio,
    better,
    target: target?.text ?? null,
    met,
    ...(extra ? { extra } : {}),
  };
}

/** Prints the scenario's result for the orchestrator (and a reader). */
export function emitResult(result) {
  for (const f of result.figures) {
    console.log(
      `  ${f.measure}: ${f.stepwise} ${f.unit} vs ${f.baseline_label} ${f.baseline} ${f.unit} → ratio ${f.ratio}` +
        (f.target ? ` (target ${f.target}: ${f.met ? 'met' : 'NOT met'})` : ''),
    );
  }
  console.log(`BENCH_RESULT ${JSON.stringify(result)}`);
}

/** Runs `work` over `items` with at most `limit` in flight. */
export async function inParallel(items, limit, work) {
  let next = 0;
  const results = new Array(items.length);
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const index = next++;
        results[index] = await work(items[index], index);
      }
    }),
  );
  return results;
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
