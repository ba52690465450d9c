// The run page of a long run (people.md's Run page; issue 19's bench), in Debian's headless
// Chromium against real gateway, resolver and runner processes: a run with N events (10,000;
// 2,000 quick) waits on a question, and the time from navigating to /app/runs/<id> until the
// timeline's newest events are visible is measured beside the load of a static file (the app's
// favicon) from the same server. The timeline opens at its newest page (events paged backwards),
// so the log's length should not show in the figure.
// The run is made the cheapest real way through the API: one workflow of many `transform.set`
// modules (two events each, two more per step) ending in a `user.confirm`; one start drains it.
// Needs MONGO_URL, REDIS_URL and a build (npm run build); WEB_APP_DIR serves another build of
// the app.
//   node bench/run-page.mjs [--quick] [--events N] [--loads N]
import { chromium } from 'playwright-core';
import { startProcessStack } from './support/process-stack.mjs';
import { emitResult, figure, latency, option, quick, sleep } from './support/report.mjs';

const targetEvents = option('events', { quick: 2_000, full: 10_000 });
const loads = option('loads', { quick: 5, full: 15 });
const modulesPerStep = 48;
/** Events of a step of `modulesPerStep` modules: step_started, 2 per module, step_completed. */
const eventsPerStep = 2 + 2 * modulesPerStep;
const question = 'Ready to finish the long run?';

const stack = await startProcessStack({
  label: 'run_page',
  env: process.env.WEB_APP_DIR ? { WEB_APP_DIR: process.env.WEB_APP_DIR } : {},
});
const { call, base, adminToken, userId } = stack;

// run_created, then the steps, then the last step's step_started, module_started and
// interaction_requested.
const steps = Math.ceil((targetEvents - 4) / eventsPerStep);
const version = await call('/v1/workflows', {
  method: 'POST',
  body: JSON.stringify({
    workflow_id: 'run-page-bench',
    steps: [
      ...Array.from({ length: steps }, (_, s) => ({
        step_id: `s${s}`,
        modules: Array.from({ length: modulesPerStep }, (_, m) => ({
          module_id: 'transform.set',
          name: `m${m}`,
          inputs: { value: m },
        })),
      })),
      {
        step_id: 'finish',
        modules: [{ module_id: 'user.confirm', name: 'ready', inputs: { message: question } }],
      },
    ],
  }),
});
const began = performance.now();
let run = await call('/v1/runs', {
  method: 'POST',
  body: JSON.stringify({ workflow_version_id: version.workflow_version_id, project_name: 'long' }),
});
while (run.status === 'running') {
  run = await call(`/v1/runs/${run.workflow_run_id}?wait=true&wait_ms=10000`);
  if (run.status === 'running') await sleep(100);
}
if (run.status !== 'awaiting_input')
  throw new Error(`the long run ended ${run.status}: ${JSON.stringify(run.error)}`);
console.log(
  `a run of ${run.last_seq} events waits on its question after ${((performance.now() - began) / 1000).toFixed(1)} s`,
);

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

/** Events the page asked for, per load: each request's `limit` (a whole log would be 1,000s). */
let eventsAsked = [];
page.on('request', (request) => {
  const url = new URL(request.url());
  if (url.pathname.endsWith('/events')) eventsAsked.push(Number(url.searchParams.get('limit')));
});

/** Milliseconds from navigation start until `ready` holds, in a fresh page load. */
async function timeNavigation(url, ready) {
  const start = performance.now();
  await page.goto(url, { waitUntil: 'commit' });
  await ready();
  return performance.now() - start;
}

const runUrl = `${base}/app/runs/${run.workflow_run_id}`;
/**
 * The newest event, the question the run waits on with its link to answer it, is laid out in the
 * timeline. Checked on every animation frame in the page (a locator's wait polls ever more slowly,
 * up to every 500 ms, which would blur the figure).
 */
const newestVisible = () =>
  page.waitForFunction(
    (text) => {
      const entries = globalThis.document.querySelectorAll('[data-testid="timeline"] .tl-entry');
      const newest = entries[entries.length - 1];
      if (!newest || !newest.textContent.includes(text)) return false;
      const link = newest.querySelector('a');
      return link !== null && link.getBoundingClientRect().height > 0;
    },
    `finish.ready asked “${question}”`,
    { polling: 'raf' },
  );
const staticPage = async () => page.waitForLoadState('load');

// Warm-up: the browser's cache of hashed assets, the server's JIT.
for (let i = 0; i < 2; i++) {
  await timeNavigation(runUrl, newestVisible);
  await timeNavigation(`${base}/app/favicon.svg`, staticPage);
}
const pageSamples = [];
const staticSamples = [];
let shownEntries = 0;
for (let i = 0; i < loads; i++) {
  eventsAsked = [];
  pageSamples.push(await timeNavigation(runUrl, newestVisible));
  shownEntries = await page.locator('.tl-entry').count();
  const earlier = await page.getByRole('button', { name: 'Show earlier events' }).count();
  const asked = eventsAsked.reduce((sum, limit) => sum + limit, 0);
  if (earlier !== 1 || asked > 200)
    throw new Error(`the timeline was not paged: ${asked} events asked, earlier button ${earlier}`);
  staticSamples.push(await timeNavigation(`${base}/app/favicon.svg`, staticPage));
}
await browser.close();

const runPage = latency(pageSamples);
const staticLoad = latency(staticSamples);
console.log(
  `run page of ${run.last_seq} events: newest visible in median ${runPage.median_ms} ms, worst ${Math.max(...pageSamples).toFixed(1)} ms (static page ${staticLoad.median_ms} ms); ${shownEntries} entries shown`,
);
await stack.close();

emitResult({
  scenario: 'run-page',
  title: 'The run page of a long run in headless Chromium (events paged from the newest)',
  params: { events: run.last_seq, loads, entries_shown: shownEntries, quick },
  figures: [
    figure({
      measure: `run page: newest events of a ${run.last_seq}-event run visible after navigation, worst of ${loads}`,
      unit: 'ms',
      stepwise: Math.max(...pageSamples),
      baseline: Math.max(...staticSamples),
      baselineLabel: 'a static page from the same server',
      better: 'lower',
      target: { text: '≤ 1,500 ms', valueAtMost: 1_500 },
      extra: { median_ms: runPage.median_ms, static_median_ms: staticLoad.median_ms },
    }),
  ],
});
