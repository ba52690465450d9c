import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';

export interface CliConfig {
  server: string;
  api_key: string;
}

/** Where the CLI keeps its login: $STEPWISE_CONFIG_DIR, else $XDG_CONFIG_HOME/stepwise, else ~/.config/stepwise. */
export function configDirectory(env: NodeJS.ProcessEnv = process.env): string {
  return (
    env['STEPWISE_CONFIG_DIR'] ??
    join(env['XDG_CONFIG_HOME'] ?? join(homedir(), '.config'), 'stepwise')
  );
}

export async function readConfig(): Promise<CliConfig | null> {
  try {
    const parsed = JSON.parse(
      await readFile(join(configDirectory(), 'config.json'), 'utf8'),
    ) as Partial<CliConfig>;
    return typeof parsed.server === 'string' && typeof parsed.api_key === 'string'
      ? { server: parsed.server, api_key: parsed.api_key }
      : null;
  } catch {
    return null;
  }
}

/** Written readable by its owner only: it holds an API key. */
export async function writeConfig(config: CliConfig): Promise<string> {
  const directory = configDirectory();
  await mkdir(directory, { recursive: true, mode: 0o700 });
  const file = join(directory, 'config.json');
  await writeFile(file, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  await chmod(file, 0o600);
  return file;
}
