// `npm run stack`: the whole Stepwise stack in the foreground.
// With a Docker engine: `docker compose up --build`. Without one (these development machines):
// Redis and the MongoDB stand-in from scripts/local-services.sh, then the three services built
// from this checkout.
//
// Without Docker the data is kept under .local/stack/data (Redis's append-only file, the
// stand-in's H2 file), so a restart finds users, keys, runs, queued jobs and timers again.
//   npm run stack -- --fresh    wipe that data first, and start empty
//   npm run stack -- --memory   keep everything in memory (gone at stop), like the tests
// Ctrl-C, SIGTERM or SIGHUP (a closed terminal) stops everything it started, whatever reads its
// output; a start after an unclean stop (SIGKILL) stops what the last one left running first.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = new Set(process.argv.slice(2));
const stackDir = process.env.STEPWISE_LOCAL_DIR || join(root, '.local/stack');
const dataDir = join(stackDir, 'data');
const pidsFile = join(stackDir, 'services.json');

// A reader that went away (`npm run stack | head`) must not crash the stop half-way.
for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined);

const say = (line) => {
  try {
    process.stdout.write(`[stack] ${line}\n`);
  } catch {
    // The reader is gone; stopping goes on regardless.
  }
};

/** Runs `work`, printing its name first and its duration after: the start is never silent. */
async function phase(name, work) {
  const started = performance.now();
  say(`${name}…`);
  const result = await work();
  say(`${name}: done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return result;
}

function dockerEngineAvailable() {
  try {
    execFileSync('docker', ['info'], { stdio: 'ignore', timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

function runWithDocker() {
  const child = spawn('docker', ['compose', 'up', '--build'], { cwd: root, stdio: 'inherit' });
  child.on('exit', (code) => process.exit(code ?? 1));
}

/** Runs scripts/local-services.sh; its output is relayed, never written to a pipe directly. */
function localServices(...commandArgs) {
  const result = spawnSync('bash', ['scripts/local-services.sh', ...commandArgs], {
    cwd: root,
    env: { ...process.env, STEPWISE_LOCAL_DIR: stackDir },
    stdio: ['ignore', 'pipe', 'pipe'],
    encoding: 'utf8',
  });
  for (const line of result.stderr.split('\n').filter(Boolean)) say(line);
  return result;
}

function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Stops the services an earlier start left running (it was killed before it could). */
function stopLeftovers() {
  if (!existsSync(pidsFile)) return;
  const recorded = JSON.parse(readFileSync(pidsFile, 'utf8'));
  for (const { name, pid } of recorded) {
    if (!isAlive(pid)) continue;
    // Only our own: the pid must still run this checkout's service.
    let commandLine = '';
    try {
      commandLine = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (!commandLine.includes(`services/${name}/dist/main.js`)) continue;
    say(`stopping the ${name} an earlier stack left running (pid ${pid})`);
    process.kill(pid, 'SIGKILL');
  }
  rmSync(pidsFile, { force: true });
}

function waitForLine(child, name, pattern) {
  return new Promise((resolve, reject) => {
    let buffered = '';
    const onData = (chunk) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        try {
          process.stdout.write(`${line}\n`);
        } catch {
          // The reader is gone.
        }
        if (pattern.test(line)) resolve(line);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code, signal) =>
      reject(new Error(`${name} exited during start-up (${code ?? signal})`)),
    );
  });
}

async function runLocally() {
  mkdirSync(stackDir, { recursive: true });
  const durable = !args.has('--memory');
  stopLeftovers();
  if (args.has('--fresh')) {
    localServices('stop');
    rmSync(dataDir, { recursive: true, force: true });
    say(`--fresh: removed ${dataDir}`);
  }

  // The slow first-start work gets phases of its own, so a first start is never silent.
  const firstStartWork = [
    ['redis', 'installing Redis (Debian package redis-server)'],
    ['mongo', 'building the MongoDB stand-in (Maven; downloads its dependencies once)'],
  ];
  for (const [name, description] of firstStartWork) {
    if (localServices('needs-prepare', name).status !== 0) continue;
    const prepared = await phase(description, () => localServices('prepare', name));
    if (prepared.status !== 0) process.exit(prepared.status ?? 1);
  }
  const build = await phase('compiling (npm run build)', () =>
    spawnSync('npm', ['run', '-s', 'build'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] }),
  );
  if (build.status !== 0) {
    say(build.stdout.toString() + build.stderr.toString());
    process.exit(build.status ?? 1);
  }

  let services;
  for (const [name, description] of [
    ['redis', 'starting Redis'],
    ['mongo', 'starting the MongoDB stand-in'],
  ]) {
    services = await phase(durable ? description : `${description}, in memory`, () =>
      localServices('start', ...(durable ? ['--durable'] : []), name),
    );
    if (services.status !== 0) {
      localServices('stop'); // Redis may be up already: a failed start leaves nothing running.
      process.exit(services.status ?? 1);
    }
  }
  const serviceEnv = Object.fromEntries(
    services.stdout
      .trim()
      .split('\n')
      .map((line) => line.split(/=(.*)/s).slice(0, 2)),
  );
  say(
    durable
      ? `data is kept in ${dataDir} (npm run stack -- --fresh starts empty)`
      : 'data is kept in memory: it is gone when the stack stops',
  );

  // Users' secrets need a master key that outlives the stack (the data it encrypts may): one made
  // on the first start and kept in the stack's folder, unless SECRETS_MASTER_KEY is given.
  const masterKeyFile = join(stackDir, 'secrets-master-key');
  if (!process.env.SECRETS_MASTER_KEY && !existsSync(masterKeyFile)) {
    mkdirSync(stackDir, { recursive: true });
    writeFileSync(masterKeyFile, randomBytes(32).toString('base64'), { mode: 0o600 });
  }
  const secretsMasterKey =
    process.env.SECRETS_MASTER_KEY ?? readFileSync(masterKeyFile, 'utf8').trim();
  const adminToken = process.env.ADMIN_TOKEN ?? randomBytes(24).toString('base64url');
  if (!process.env.ADMIN_TOKEN) say(`ADMIN_TOKEN=${adminToken} (set ADMIN_TOKEN to choose one)`);
  const env = {
    ...process.env,
    ...serviceEnv,
    ADMIN_TOKEN: adminToken,
    SECRETS_MASTER_KEY: secretsMasterKey,
    HOST: process.env.HOST ?? '127.0.0.1',
    // Invitation links need the address people reach the app at; on one's own machine that is
    // the gateway's own (set PUBLIC_URL when it is reached another way). Unknown for port 0.
    ...(process.env.PUBLIC_URL || process.env.PORT === '0'
      ? {}
      : {
          PUBLIC_URL: `http://${process.env.HOST && process.env.HOST !== '0.0.0.0' ? process.env.HOST : '127.0.0.1'}:${process.env.PORT ?? '8080'}`,
        }),
    // The stack knows a service is up from its info-level "ready" line: never quieter than info.
    LOG_LEVEL: ['trace', 'debug'].includes(process.env.LOG_LEVEL ?? '')
      ? process.env.LOG_LEVEL
      : 'info',
  };

  const children = [];
  let stopping = false;
  async function stop(exitCode) {
    if (stopping) return;
    stopping = true;
    await Promise.all(
      children.map(
        ({ child }) =>
          new Promise((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve(undefined);
            child.once('exit', resolve);
            child.kill('SIGTERM');
          }),
      ),
    );
    rmSync(pidsFile, { force: true });
    localServices('stop');
    process.exit(exitCode);
  }
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => void stop(0));

  const ready = {
    gateway: /gateway listening/,
    resolver: /resolver ready/,
    runner: /runner ready/,
  };
  let listening = '';
  for (const name of ['gateway', 'resolver', 'runner']) {
    // A stop that came while the previous service was starting: start nothing more.
    if (stopping) return;
    const child = spawn(process.execPath, [`services/${name}/dist/main.js`], {
      cwd: root,
      env,
      // Piped, not inherited: the stack relays the lines, so a reader that goes away cannot kill
      // a service with EPIPE half-way through a stop.
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push({ name, child });
    writeFileSync(
      pidsFile,
      JSON.stringify(children.map((entry) => ({ name: entry.name, pid: entry.child.pid }))),
    );
    child.on('exit', (code, signal) => {
      if (!stopping) {
        say(`${name} exited (${code ?? signal}); stopping the stack`);
        void stop(1);
      }
    });
    const line = await phase(`starting the ${name}`, () =>
      waitForLine(child, name, ready[name]).catch((error) => {
        say(error.message);
        return stop(1);
      }),
    );
    if (name === 'gateway') listening = line;
  }
  const address = JSON.parse(listening);
  say(`ready at http://${address.host}:${address.port} (the web app: /app)`);
}

if (dockerEngineAvailable()) runWithDocker();
else await runLocally();
