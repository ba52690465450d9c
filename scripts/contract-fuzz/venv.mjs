// The Python virtual environment that holds schemathesis: created under .local (gitignored) on the
// first run, reused while requirements.txt is unchanged, rebuilt when it changes.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';

/** The exact schemathesis version requirements.txt pins. */
export function pinnedSchemathesisVersion(requirementsPath) {
  const match = /^schemathesis==(\S+)\s*$/m.exec(readFileSync(requirementsPath, 'utf8'));
  if (!match) throw new Error(`${requirementsPath} pins no schemathesis version (schemathesis==X)`);
  return match[1];
}

function run(command, args, what) {
  const result = spawnSync(command, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  if (result.error) throw new Error(`${what}: ${result.error.message}`);
  if (result.status !== 0) throw new Error(`${what} failed (exit ${result.status})`);
}

/**
 * Makes sure `venvDir` holds exactly what `requirementsPath` lists and answers the path of its `st`.
 * A stamp file in the venv records the hash of the requirements it was built from, so an edited
 * pin rebuilds it instead of running an old schemathesis against a new allow-list.
 */
export function ensureSchemathesis({ venvDir, requirementsPath, log }) {
  const requirements = readFileSync(requirementsPath);
  const wanted = createHash('sha256').update(requirements).digest('hex');
  const stamp = `${venvDir}/.requirements-sha256`;
  const st = `${venvDir}/bin/st`;
  const python = `${venvDir}/bin/python`;
  const current = existsSync(stamp) ? readFileSync(stamp, 'utf8').trim() : '';
  if (current === wanted && existsSync(st)) {
    log(`schemathesis: reusing ${venvDir}`);
  } else {
    log(`schemathesis: installing ${requirementsPath} into ${venvDir}`);
    // A half-built or outdated venv is cheaper to rebuild than to repair.
    rmSync(venvDir, { recursive: true, force: true });
    const venv = spawnSync('python3', ['-m', 'venv', venvDir], { encoding: 'utf8' });
    if (venv.error || venv.status !== 0) {
      throw new Error(
        `python3 -m venv failed: ${venv.error?.message ?? venv.stderr.trim()}\n` +
          'Install Python 3 with its venv module (Debian: apt-get install python3-venv).',
      );
    }
    run(
      python,
      [
        '-m',
        'pip',
        'install',
        '--quiet',
        '--disable-pip-version-check',
        '--no-input',
        '-r',
        requirementsPath,
      ],
      'pip install',
    );
    writeFileSync(stamp, `${wanted}\n`);
  }
  const version = spawnSync(st, ['--version'], { encoding: 'utf8' });
  const expected = pinnedSchemathesisVersion(requirementsPath);
  if (version.status !== 0 || !version.stdout.includes(`version ${expected}`)) {
    throw new Error(`${st} --version answered "${version.stdout.trim()}", not ${expected}`);
  }
  return st;
}
