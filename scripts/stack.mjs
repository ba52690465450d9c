// `npm run stack`: the whole Stepwise stack in the foreground.
// With a Docker engine: `docker compose up --build`. Without one (these development machines):
// Redis and the MongoDB stand-in from scripts/local-services.sh, then the three services built
// from this checkout. Ctrl-C (or SIGTERM) stops everything it started.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

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

function runLocally() {
  const services = spawnSync('bash', ['scripts/local-services.sh', 'start'], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
  });
  if (services.status !== 0) process.exit(services.status ?? 1);
  const serviceEnv = Object.fromEntries(
    services.stdout
      .trim()
      .split('\n')
      .map((line) => line.split(/=(.*)/s).slice(0, 2)),
  );

  const build = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
  if (build.status !== 0) process.exit(build.status ?? 1);

  const adminToken = process.env.ADMIN_TOKEN ?? randomBytes(24).toString('base64url');
  if (!process.env.ADMIN_TOKEN)
    console.log(`[stack] ADMIN_TOKEN=${adminToken} (set ADMIN_TOKEN to choose one)`);
  const env = {
    ...process.env,
    ...serviceEnv,
    ADMIN_TOKEN: adminToken,
    HOST: process.env.HOST ?? '127.0.0.1',
  };

  const children = ['gateway', 'resolver', 'runner'].map((name) => {
    const child = spawn(process.execPath, [`services/${name}/dist/main.js`], {
      cwd: root,
      env,
      stdio: 'inherit',
    });
    child.on('exit', (code, signal) => {
      if (!stopping) {
        console.error(`[stack] ${name} exited (${code ?? signal}); stopping the stack`);
        void stop(1);
      }
    });
    return child;
  });

  let stopping = false;
  async function stop(exitCode) {
    if (stopping) return;
    stopping = true;
    await Promise.all(
      children.map(
        (child) =>
          new Promise((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve(undefined);
            child.once('exit', resolve);
            child.kill('SIGTERM');
          }),
      ),
    );
    spawnSync('bash', ['scripts/local-services.sh', 'stop'], { cwd: root, stdio: 'inherit' });
    process.exit(exitCode);
  }
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));
}

if (dockerEngineAvailable()) runWithDocker();
else runLocally();
