// Resolver timing: submission → version through the real HTTP API and real gateway and resolver
// processes, for the example bundle and a ~10 MB bundle, next to a baseline measured in the same run
// (sha256 plus unzip of the same bytes in one process). Needs MONGO_URL, REDIS_URL and a build.
//   node bench/resolver.mjs [--quick] [--runs N]
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import JSZip from 'jszip';
import { startProcessStack } from './support/process-stack.mjs';
import { emitResult, figure, latency, option, quick } from './support/report.mjs';

const runs = option('runs', { quick: 5, full: 21 });
const root = new URL('..', import.meta.url).pathname;

function readTree(dir) {
  const files = new Map();
  const walk = (current) => {
    for (const name of readdirSync(current)) {
      const path = join(current, name);
      if (statSync(path).isDirectory()) walk(path);
      else files.set(relative(dir, path), readFileSync(path));
    }
  };
  walk(dir);
  return files;
}

const zip = (files) => {
  const archive = new JSZip();
  for (const [path, bytes] of files) archive.file(path, bytes);
  return archive.generateAsync({ type: 'nodebuffer', compression: 'DEFLATE' });
};

/** The example tree with a unique marker, so every run makes a new version. */
async function exampleVariant(extraPromptBytes = 0) {
  const files = readTree(join(root, 'examples/pet-clips'));
  const filler =
    extraPromptBytes > 0 ? randomBytes(Math.floor(extraPromptBytes * 0.75)).toString('base64') : '';
  files.set(
    'prompts/video.liquid',
    Buffer.concat([
      files.get('prompts/video.liquid'),
      Buffer.from(`\n${randomBytes(8).toString('hex')}\n${filler}`),
    ]),
  );
  return zip(files);
}

async function baseline(bytes) {
  const started = performance.now();
  createHash('sha256').update(bytes).digest('hex');
  const archive = await JSZip.loadAsync(bytes);
  for (const file of Object.values(archive.files)) if (!file.dir) await file.async('nodebuffer');
  return performance.now() - started;
}

const stack = await startProcessStack({ label: 'resolver', services: ['gateway', 'resolver'] });

async function submitTimed(bytes) {
  const started = performance.now();
  const response = await fetch(`${stack.base}/v1/workflows`, {
    method: 'POST',
    headers: { authorization: `Bearer ${stack.apiKey}`, 'content-type': 'application/zip' },
    body: bytes,
  });
  const body = await response.json();
  if (response.status !== 201) throw new Error(`${response.status} ${JSON.stringify(body)}`);
  return performance.now() - started;
}

const figures = [];
for (const [name, extra] of [
  ['example bundle', 0],
  ['10 MB bundle', 13.4 * 1024 * 1024],
]) {
  const stepwise = [];
  const baselines = [];
  let size = 0;
  await submitTimed(await exampleVariant(extra)); // warm-up
  for (let i = 0; i < runs; i++) {
    const bytes = await exampleVariant(extra);
    size = bytes.length;
    baselines.push(await baseline(bytes));
    stepwise.push(await submitTimed(bytes));
  }
  const s = latency(stepwise);
  const b = latency(baselines);
  console.log(
    `${name} (${(size / 1024).toFixed(1)} KiB zip): submission→version median ${s.median_ms} ms; sha256+unzip baseline ${b.median_ms} ms`,
  );
  figures.push(
    figure({
      measure: `${name} (${(size / 2 ** 20).toFixed(2)} MiB zip), median`,
      unit: 'ms',
      stepwise: s.median_ms,
      baseline: b.median_ms,
      baselineLabel: 'sha256 + unzip',
      better: 'lower',
      // Issue 23's targets: the fixed cost of a small submission, the work of a large one.
      target:
        size < 2 ** 20 ? { ratioAtMost: 6, text: '≤ 6×' } : { ratioAtMost: 2.5, text: '≤ 2.5×' },
      extra: { stepwise: s, baseline: b, bytes: size },
    }),
  );
}
emitResult({
  scenario: 'resolver',
  title: 'Resolver: submission to version',
  params: { runs, quick },
  figures,
});

await stack.close();
process.exit(0);
