// The web app as a person meets it (people.md's quality bars), in Debian's headless Chromium
// against real gateway, resolver and runner processes:
//  - with N interactions waiting (1,000; 200 quick), the time from navigating to /app/inbox until
//    the first 50 are visible and can be opened, beside the load of a static page (the app's
//    favicon) from the same server;
//  - answering consecutive questions with no module between them: the time from clicking
//    Approve until the next question is visible, p95, beside a /healthz fetch from the page;
//  - the initial route's JavaScript, gzip, beside React and ReactDOM's own production builds.
// Needs MONGO_URL, REDIS_URL and a build (npm run build).
//   node bench/web-app.mjs [--quick] [--waiting N] [--loads N] [--answers N]
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { chromium } from 'playwright-core';
import { startProcessStack } from './support/process-stack.mjs';
import { emitResult, figure, inParallel, latency, option, quick } from './support/report.mjs';

const waiting = option('waiting', { quick: 200, full: 1_000 });
const loads = option('loads', { quick: 5, full: 15 });
const answers = option('answers', { quick: 15, full: 60 });
const root = new URL('..', import.meta.url).pathname;

const stack = await startProcessStack({ label: 'web_app' });
const { call, base, adminToken, userId } = stack;

const questions = answers + 2;
const version = await call('/v1/workflows', {
  method: 'POST',
  body: JSON.stringify({
    workflow_id: 'web-app-bench',
    steps: [
      {
        step_id: 'review',
        modules: Array.from({ length: questions }, (_, i) => ({
          module_id: 'user.confirm',
          name: `confirm_${i}`,
          inputs: { message: `Question ${i} of {{ run.project_name }}: keep going?` },
        })),
      },
    ],
  }),
});
const started = performance.now();
await inParallel(
  Array.from({ length: waiting }, (_, i) => i),
  16,
  (i) =>
    call('/v1/runs', {
      method: 'POST',
      body: JSON.stringify({
        workflow_version_id: version.workflow_version_id,
        project_name: `waiting-${String(i).padStart(4, '0')}`,
      }),
    }),
);
console.log(`${waiting} runs waiting in ${((performance.now() - started) / 1000).toFixed(1)} s`);

// A person: invited, password set, the session cookie handed to the browser.
const invitation = await (
  await fetch(`${base}/v1/admin/users/${userId}/invitations`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminToken}` },
  })
).json();
const accepted = await fetch(`${base}/v1/auth/invitations/accept`, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({
    token: new URL(invitation.url).hash.slice('#token='.length),
    password: 'bench passphrase 2026',
  }),
});
if (accepted.status !== 201)
  throw new Error(`accepting: ${accepted.status} ${await accepted.text()}`);
const cookie = accepted.headers.getSetCookie()[0].split(';')[0].split('=');

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
});
const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
await context.addCookies([{ name: cookie[0], value: cookie[1], url: base, httpOnly: true }]);
const page = await context.newPage();

/** Milliseconds from navigation start until `ready` holds, in a fresh page load. */
async function timeNavigation(url, ready) {
  const began = performance.now();
  await page.goto(url, { waitUntil: 'commit' });
  await ready();
  return performance.now() - began;
}

const firstFifty = async () => {
  const rows = page.getByRole('list', { name: 'Waiting questions' }).getByRole('link');
  await rows.nth(49).waitFor({ state: 'visible' });
  // "Openable": the first row is a real, enabled link.
  await rows.first().waitFor({ state: 'visible' });
};
const staticPage = async () => page.waitForLoadState('load');

// Warm-up: the browser's cache of hashed assets, the server's JIT.
for (let i = 0; i < 2; i++) {
  await timeNavigation(`${base}/app/inbox`, firstFifty);
  await timeNavigation(`${base}/app/favicon.svg`, staticPage);
}
const inboxSamples = [];
const staticSamples = [];
for (let i = 0; i < loads; i++) {
  inboxSamples.push(await timeNavigation(`${base}/app/inbox`, firstFifty));
  staticSamples.push(await timeNavigation(`${base}/app/favicon.svg`, staticPage));
}

// Consecutive questions on one run.
const run = await call('/v1/runs', {
  method: 'POST',
  body: JSON.stringify({
    workflow_version_id: version.workflow_version_id,
    project_name: 'answering',
  }),
});
await page.goto(
  `${base}/app/runs/${run.workflow_run_id}/interactions/${run.pending_interaction.interaction_id}`,
);
const nextSamples = [];
const healthSamples = [];
for (let i = 0; i < questions - 1; i++) {
  const current = page.getByText(`Question ${i} of answering: keep going?`);
  await current.waitFor({ state: 'visible' });
  const began = performance.now();
  await page.getByRole('button', { name: 'Approve' }).click();
  await page.getByText(`Question ${i + 1} of answering: keep going?`).waitFor({ state: 'visible' });
  if (i >= 2) nextSamples.push(performance.now() - began); // the first two warm up
  healthSamples.push(
    await page.evaluate(async () => {
      const t = performance.now();
      await (await fetch('/healthz')).text();
      return performance.now() - t;
    }),
  );
}
await browser.close();

// The initial route's JavaScript: the entry script and what it preloads, as index.html names them.
const dist = `${root}apps/web/dist`;
const html = readFileSync(`${dist}/index.html`, 'utf8');
const initialFiles = [...html.matchAll(/(?:src|href)="\/app\/(assets\/[^"]+\.js)"/g)].map(
  (m) => m[1],
);
const gzipped = (path) => gzipSync(readFileSync(path), { level: 9 }).length;
const initialJs = initialFiles.reduce((sum, file) => sum + gzipped(`${dist}/${file}`), 0);
const framework =
  gzipped(`${root}node_modules/react/cjs/react.production.js`) +
  gzipped(`${root}node_modules/react-dom/cjs/react-dom-client.production.js`);

const inbox = latency(inboxSamples);
const staticLoad = latency(staticSamples);
const next = latency(nextSamples);
const health = latency(healthSamples);
const p95 = (samples) => [...samples].sort((a, b) => a - b)[Math.ceil(samples.length * 0.95) - 1];
console.log(
  `inbox with ${waiting} waiting: first 50 visible in median ${inbox.median_ms} ms (static page ${staticLoad.median_ms} ms); next question p95 ${p95(nextSamples).toFixed(1)} ms over ${nextSamples.length} answers; initial JS ${(initialJs / 1024).toFixed(1)} KiB gzip in ${initialFiles.length} files`,
);
await stack.close();

emitResult({
  scenario: 'web-app',
  title: 'The web app in headless Chromium (inbox load, next question, initial JS)',
  params: { waiting, loads, answers: nextSamples.length, initial_files: initialFiles, quick },
  figures: [
    figure({
      measure: `inbox: first 50 of ${waiting} waiting visible after navigation, worst of ${loads}`,
      unit: 'ms',
      stepwise: Math.max(...inboxSamples),
      baseline: Math.max(...staticSamples),
      baselineLabel: 'a static page from the same server',
      better: 'lower',
      target: { text: '≤ 1,500 ms', valueAtMost: 1_500 },
      extra: { median_ms: inbox.median_ms, static_median_ms: staticLoad.median_ms },
    }),
    figure({
      measure: 'next question visible after answering, p95',
      unit: 'ms',
      stepwise: p95(nextSamples),
      baseline: p95(healthSamples),
      baselineLabel: '/healthz fetched from the page',
      better: 'lower',
      target: { text: '≤ 300 ms', valueAtMost: 300 },
      extra: { median_ms: next.median_ms, health_median_ms: health.median_ms },
    }),
    figure({
      measure: 'initial route JavaScript, gzip',
      unit: 'KiB',
      stepwise: initialJs / 1024,
      baseline: framework / 1024,
      baselineLabel: 'React + ReactDOM production builds alone',
      better: 'lower',
      target: { text: '≤ 250 KB', valueAtMost: 250_000 / 1024 },
    }),
  ],
});
