// Resolver timing: submission → version through the real HTTP API and a real resolver worker, for
// the example bundle and a ~10 MB bundle, next to a baseline measured in the same run (sha256 plus
// unzip of the same bytes in one process). Needs MONGO_URL and REDIS_URL and a build (npm run build).
//   node bench/resolver.mjs [--runs N]
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import JSZip from 'jszip';
import { medianOf, startBenchStack } from './support/in-process-stack.mjs';

const runs = Number(process.argv[process.argv.indexOf('--runs') + 1]) || 7;
const root = new URL('..', import.meta.url).pathname;
const median = medianOf;

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

const stack = await startBenchStack({ label: 'resolver', withRunner: false });

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

const results = {};
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
  results[name] = {
    bytes: size,
    stepwise_median_ms: median(stepwise),
    baseline_median_ms: median(baselines),
    ratio: median(stepwise) / median(baselines),
  };
}
console.log(JSON.stringify({ runs, results }, null, 2));
for (const [name, r] of Object.entries(results)) {
  console.log(
    `${name} (${(r.bytes / 1024).toFixed(1)} KiB zip): submission→version median ${r.stepwise_median_ms.toFixed(1)} ms; sha256+unzip baseline ${r.baseline_median_ms.toFixed(1)} ms; ratio ${r.ratio.toFixed(1)}x`,
  );
}

await stack.close();
process.exit(0);
