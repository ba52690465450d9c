// `npm run contract:fuzz [-- --max-examples N --seed N --workers N --phases a,b --timeout S --keep --quiet]`
//
// Contract testing of the HTTP API against its own OpenAPI document: starts a fresh stack from
// the built dist (its own database and queue prefix on MONGO_URL/REDIS_URL), seeds it through the
// API (a user, two workflows, runs waiting at each kind of question), runs schemathesis against
// /openapi.json with every check and the examples, coverage, fuzzing and stateful phases, and
// compares each failure with scripts/contract-fuzz/allowlist.json. Exits 1 on any failure the
// allow-list does not name (or when the run itself breaks), 0 otherwise; allow-list entries that
// matched nothing are warned about. Reports go to test-artifacts/contract-fuzz/.
// See docs/contract-testing.md.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import {
  loadAllowlist,
  matchFailures,
  printSummary,
  readFailures,
  writeMarkdown,
} from './contract-fuzz/report.mjs';
import { seedStack } from './contract-fuzz/seed.mjs';
import { startStack } from './contract-fuzz/stack.mjs';
import { ensureSchemathesis } from './contract-fuzz/venv.mjs';

const root = new URL('..', import.meta.url).pathname;
const here = `${root}scripts/contract-fuzz`;
const { values: options } = parseArgs({
  options: {
    // Per operation and phase. 100 takes about 3 minutes on a 2-core machine, half the budget of
    // ~6 (docs/contract-testing.md has the measurements); raise it locally to dig deeper.
    'max-examples': { type: 'string', default: '100' },
    // Fixed, so that a rerun generates the same cases (the stack's own ids and timing still vary).
    seed: { type: 'string', default: '20251130' },
    // One worker: schemathesis' workers are threads, and with two of them CPython 3.11's ast.parse
    // (called by hypothesis) fails now and then with "AST constructor recursion depth mismatch";
    // one worker also keeps the order of requests, and so the findings, the same from run to run.
    workers: { type: 'string', default: '1' },
    phases: { type: 'string', default: 'examples,coverage,fuzzing,stateful' },
    // Hard stop for schemathesis, in seconds: a hung request must not hang CI.
    timeout: { type: 'string', default: '900' },
    // Steps per stateful scenario (create a run, answer it, branch it…): bounded like the examples.
    'max-steps': { type: 'string', default: '12' },
    // Leave the stack's database and queue keys behind, for looking at what the fuzzer made.
    keep: { type: 'boolean', default: false },
    // Keep schemathesis' own report out of the terminal (it still goes to schemathesis-output.txt):
    // CI's log stays readable, and its pytest-like banners are not taken for the suite's count.
    quiet: { type: 'boolean', default: false },
    out: { type: 'string', default: `${root}test-artifacts/contract-fuzz` },
  },
});

const startedAt = Date.now();
const log = (message) =>
  console.log(
    `[contract-fuzz ${((Date.now() - startedAt) / 1000).toFixed(1).padStart(5)} s] ${message}`,
  );

const { MONGO_URL: mongoUrl, REDIS_URL: redisUrl } = process.env;
if (!mongoUrl || !redisUrl) {
  console.error(
    'contract-fuzz: set MONGO_URL and REDIS_URL (e.g. eval "$(npm run -s services -- start)"; export MONGO_URL REDIS_URL)',
  );
  process.exit(2);
}

const out = options.out;
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

/** One value as a TOML basic string; JSON's escapes are TOML's for what ids and names hold. */
const tomlString = (value) => JSON.stringify(String(value));
const tomlArray = (values) => `[${values.map(tomlString).join(', ')}]`;

/**
 * The schemathesis configuration: credentials per security scheme (read from the environment, so
 * the file holds no secret), and the seeded ids as dictionaries mixed into generated parameters.
 */
function schemathesisConfig(seeded, maxSteps) {
  const lines = [
    '# Written by scripts/contract-fuzz.mjs for one run; credentials come from the environment.',
    '',
    // The Workflow schema (POST /v1/workflows, resume) is deep, and its key rules (no NUL, no
    // reserved names, at every depth) make Hypothesis discard many drafts; its "filtered too
    // much" health check then ends the operation as an error instead of testing it with the
    // examples it did make. Those examples still run, every check applied.
    'suppress-health-check = ["filter_too_much"]',
    '',
    '[auth.openapi.apiKey]',
    'bearer = "${STEPWISE_FUZZ_API_KEY}"',
    '',
    '[auth.openapi.adminToken]',
    'bearer = "${STEPWISE_FUZZ_ADMIN_TOKEN}"',
  ];
  // Which seeded ids go where: parameter (location.name) -> dictionary. A generated value is
  // replaced by a seeded one with the given probability, so random (404) ids are tried too.
  const bindings = [
    ['path.id', 'run'],
    ['path.interaction_id', 'interaction'],
    ['path.version_id', 'version'],
    ['path.name', 'template'],
    ['path.key_id', 'key'],
    ['path.artifact_id', 'artifact'],
    ['query.branch_id', 'branch'],
    ['query.template', 'template'],
    ['query.project_name', 'project'],
    ['query.step_id', 'step'],
    ['query.module_name', 'module'],
    ['body.workflow_version_id', 'version'],
    ['body.workflow_template_name', 'template'],
    ['body.submitted_version_id', 'version'],
    ['body.from_event_id', 'event'],
    ['body.step_id', 'step'],
    ['body.module_name', 'module'],
  ];
  for (const [name, values] of Object.entries(seeded.ids)) {
    if (values.length === 0) continue;
    lines.push('', `[dictionaries.${name}]`, `values = ${tomlArray(values)}`);
  }
  for (const [parameter, dictionary] of bindings) {
    if (seeded.ids[dictionary].length === 0) continue;
    lines.push(
      '',
      `[parameters.${tomlString(parameter)}]`,
      `dictionary = ${tomlString(dictionary)}`,
      'probability = 0.6',
    );
  }
  // The document has no examples of its own; let the examples phase make one per operation.
  lines.push('', '[phases.examples]', 'fill-missing = true');
  // Steps per stateful scenario: bounded like the examples, so the phase ends in time.
  lines.push('', '[phases.stateful]', `max-steps = ${Number(maxSteps)}`);
  // An event stream stays open; schemathesis reads it until its timeout, so keep that short here.
  for (const path of ['/v1/runs/{id}/stream', '/v1/me/stream'])
    lines.push(
      '',
      '[[operations]]',
      `include-path = "${path}"`,
      'request-timeout = 2',
      'max-stream-events = 10',
    );
  return `${lines.join('\n')}\n`;
}

function runSchemathesis(st, args, env, timeoutSeconds) {
  return new Promise((resolve) => {
    const child = spawn(st, args, {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const transcript = [];
    const forward = (stream) => (chunk) => {
      transcript.push(chunk);
      if (!options.quiet) stream.write(chunk);
    };
    child.stdout.on('data', forward(process.stdout));
    child.stderr.on('data', forward(process.stderr));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGINT');
      setTimeout(() => child.kill('SIGKILL'), 20_000).unref();
    }, timeoutSeconds * 1000);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      writeFileSync(`${out}/schemathesis-output.txt`, Buffer.concat(transcript));
      resolve({ code: code ?? signal, timedOut });
    });
  });
}

let stack;
let exitCode = 1;
try {
  const st = ensureSchemathesis({
    venvDir: `${root}.local/venv-schemathesis`,
    requirementsPath: `${here}/requirements.txt`,
    log,
  });
  const allowlist = loadAllowlist(`${here}/allowlist.json`);

  stack = await startStack({ root, mongoUrl, redisUrl, logDir: out });
  log(
    `stack up at ${stack.base} (database ${stack.databaseName}, queue prefix ${stack.queuePrefix})`,
  );
  const seeded = await seedStack({
    base: stack.base,
    adminToken: stack.adminToken,
    examplesDir: `${root}examples`,
    log,
  });
  writeFileSync(`${out}/seeded-ids.json`, `${JSON.stringify(seeded.ids, null, 2)}\n`);
  // A real run archive, so that imports are fuzzed past the zip check (hooks.py reads it).
  const archivePath = `${out}/run-archive.zip`;
  const exported = await fetch(`${stack.base}/v1/runs/${seeded.ids.run[0]}/export`, {
    headers: { authorization: `Bearer ${seeded.apiKey}` },
  });
  if (exported.status !== 200) throw new Error(`exporting a seeded run: ${exported.status}`);
  writeFileSync(archivePath, Buffer.from(await exported.arrayBuffer()));
  const configPath = `${out}/schemathesis.toml`;
  writeFileSync(configPath, schemathesisConfig(seeded, options['max-steps']));

  const args = [
    '--config-file',
    configPath,
    'run',
    `${stack.base}/openapi.json`,
    '--checks',
    'all',
    '--phases',
    options.phases,
    '--max-examples',
    options['max-examples'],
    '--seed',
    options.seed,
    '--workers',
    options.workers,
    '--request-timeout',
    '15',
    '--continue-on-failure',
    // No example database: a run must not replay what an earlier local run stored, or the same
    // seed would give different runs on different machines.
    '--generation-database',
    'none',
    '--report',
    'junit,ndjson,json',
    '--report-junit-path',
    `${out}/junit.xml`,
    '--report-ndjson-path',
    `${out}/events.ndjson`,
    '--report-json-path',
    `${out}/report.json`,
    '--no-color',
  ];
  log(`st ${args.join(' ')}`);
  const schemathesisStartedAt = Date.now();
  const result = await runSchemathesis(
    st,
    args,
    {
      STEPWISE_FUZZ_API_KEY: seeded.apiKey,
      STEPWISE_FUZZ_ADMIN_TOKEN: stack.adminToken,
      STEPWISE_FUZZ_PROTECTED_KEY_ID: seeded.keyId,
      STEPWISE_FUZZ_PROTECTED_USER_ID: seeded.userId,
      STEPWISE_FUZZ_RUN_ARCHIVE: archivePath,
      SCHEMATHESIS_HOOKS: `${here}/hooks.py`,
      // Hypothesis keeps caches in ./.hypothesis by default; keep them under .local instead.
      HYPOTHESIS_STORAGE_DIRECTORY: `${root}.local/contract-fuzz-hypothesis`,
    },
    Number(options.timeout),
  );
  const schemathesisSeconds = (Date.now() - schemathesisStartedAt) / 1000;
  log(`schemathesis exited ${result.code} after ${schemathesisSeconds.toFixed(0)} s`);

  const report = readFailures(`${out}/events.ndjson`, `${out}/report.json`);
  const matched = matchFailures(report.failures, allowlist);
  const problems = [];
  if (result.timedOut) problems.push(`schemathesis did not finish within ${options.timeout} s`);
  if (!report.complete)
    problems.push('schemathesis did not complete its run (see schemathesis-output.txt)');
  problems.push(...report.errors.map((error) => `schemathesis error: ${error}`));
  problems.push(...stack.crashes());
  const summary = {
    seed: Number(options.seed),
    max_examples: Number(options['max-examples']),
    phases: options.phases.split(','),
    schemathesis_seconds: Math.round(schemathesisSeconds),
    total_seconds: Math.round((Date.now() - startedAt) / 1000),
    problems,
    unlisted: matched.unlisted,
    listed: matched.listed,
    stale: matched.stale,
  };
  writeFileSync(`${out}/summary.json`, `${JSON.stringify(summary, null, 2)}\n`);
  writeMarkdown(`${out}/failures.md`, summary);
  printSummary(summary);
  if (options.quiet && problems.length > 0) {
    const tail = readFileSync(`${out}/schemathesis-output.txt`, 'utf8').split('\n').slice(-60);
    console.log(['--- the end of schemathesis-output.txt ---', ...tail].join('\n'));
  }
  exitCode = problems.length > 0 || matched.unlisted.length > 0 ? 1 : 0;
} catch (error) {
  console.error(`contract-fuzz: ${error instanceof Error ? error.stack : String(error)}`);
  exitCode = 1;
} finally {
  if (stack) await stack.stop({ keepData: options.keep }).catch((error) => console.error(error));
  log(`done (exit ${exitCode}); reports in ${out}`);
}
process.exit(exitCode);
