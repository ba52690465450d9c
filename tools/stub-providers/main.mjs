#!/usr/bin/env node
// `npm run stubs [-- --port N] [--host H] [--public-host NAME] [--polls N] [--quiet]`: starts the
// stub providers in the foreground, prints the settings that make the runner use them, and logs
// each request until Ctrl-C.
import { parseArgs } from 'node:util';
import {
  DEFAULT_STUB_PORT,
  exportLines,
  startStubProviders,
  stubSettings,
} from './stub-providers.mjs';

const usage = `Usage: npm run stubs [-- options]

Starts a deterministic, loopback stand-in for an OpenAI-compatible LLM and an asynchronous image
provider, so that the examples run with no account anywhere.

Options:
  --port N           port to listen on (default ${DEFAULT_STUB_PORT}; 0 picks a free one)
  --host H           address to listen on (default 127.0.0.1)
  --public-host H    the name the runner reaches the stubs by, used in the settings and in the
                     image URLs jobs answer with (default: --host, or 127.0.0.1 for 0.0.0.0)
  --polls N          a job has succeeded from its N-th poll (default 3)
  --quiet            do not log each request
  -h, --help         this text`;

function fail(message) {
  process.stderr.write(`${message}\n\n${usage}\n`);
  process.exit(2);
}

let options;
try {
  ({ values: options } = parseArgs({
    options: {
      port: { type: 'string', default: String(DEFAULT_STUB_PORT) },
      host: { type: 'string', default: '127.0.0.1' },
      'public-host': { type: 'string' },
      polls: { type: 'string', default: '3' },
      quiet: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  }));
} catch (error) {
  fail(error.message);
}
if (options.help) {
  process.stdout.write(`${usage}\n`);
  process.exit(0);
}
const port = Number(options.port);
if (!/^\d+$/.test(options.port) || port > 65_535) fail(`--port: not a port: ${options.port}`);
const polls = Number(options.polls);
if (!/^\d+$/.test(options.polls) || polls < 1) fail(`--polls: not a positive integer`);

// A reader that went away (`npm run stubs | head`) must not crash the stubs.
for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined);
const say = (line = '') => process.stdout.write(`${line}\n`);

let stubs;
try {
  stubs = await startStubProviders({
    host: options.host,
    port,
    pollsToFinish: polls,
    publicHost: options['public-host'],
    onRequest: options.quiet
      ? undefined
      : ({ method, path, status, ms }) => say(`[stubs] ${method} ${path} → ${status} (${ms} ms)`),
  });
} catch (error) {
  process.stderr.write(
    error.code === 'EADDRINUSE'
      ? `port ${port} is in use (stubs already running?); choose another with --port N\n`
      : `${error.message}\n`,
  );
  process.exit(1);
}

const settings = stubSettings(stubs, process.env.OUTBOUND_ALLOWED_HOSTS ?? '');
say(`Stub providers ready at ${stubs.url} (deterministic; nothing leaves this machine)`);
say(`  LLM, OpenAI-compatible:  ${stubs.llmBaseUrl}`);
say(`  images, asynchronous:    ${stubs.imagesBaseUrl}`);
say();
say('Export these where the runner starts (e.g. in the terminal of `npm run stack`):');
say();
for (const line of exportLines(settings)) say(line);
say();
if (stubs.imagesBaseUrl !== `http://127.0.0.1:${DEFAULT_STUB_PORT}/images/v1`)
  say(
    `The examples' config.image_api defaults to http://127.0.0.1:${DEFAULT_STUB_PORT}/images/v1: set it to ${stubs.imagesBaseUrl} in their workflow.json.`,
  );
say('Counters: curl -s ' + `${stubs.url}/_stub/stats` + '. Ctrl-C stops the stubs.');

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'])
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    void stubs.close().then(() => process.exit(0));
  });
