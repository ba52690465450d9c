import { afterAll } from 'vitest';
import { runnerEnvSchema } from '@stepwise/shared/node';
import {
  startStubProviders,
  type StubProviderOptions,
  type StubProviders,
} from '../../tools/stub-providers/stub-providers.mjs';
import type { TestRunnerOptions } from './runner.js';

/** The stub providers shipped in tools/stub-providers (`npm run stubs`), typed for the tests. */
export * from '../../tools/stub-providers/stub-providers.mjs';

/** Starts the stubs on a free loopback port for this file, closed after its tests. */
export async function useStubProviders(options: StubProviderOptions = {}): Promise<StubProviders> {
  const stubs = await startStubProviders(options);
  afterAll(() => stubs.close());
  return stubs;
}

/** `export NAME=value` lines read as a shell reads them (values bare or single-quoted). */
export function parseExports(text: string): Record<string, string> {
  const settings: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const found = /^export ([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (!found?.[1]) continue;
    const raw = found[2] ?? '';
    settings[found[1]] = raw.startsWith("'") ? raw.slice(1, -1).replace(/'\\''/g, "'") : raw;
  }
  return settings;
}

/**
 * The in-process runner's options that the printed settings amount to, read through the runner's
 * own configuration schema (as `services/runner/dist/main.js` would read its environment).
 */
export function runnerOptionsFromSettings(
  settings: Record<string, string>,
): Pick<TestRunnerOptions, 'allowedHosts' | 'llm'> {
  const config = runnerEnvSchema.parse({
    MONGO_URL: 'mongodb://127.0.0.1:1/unused',
    REDIS_URL: 'redis://127.0.0.1:1',
    ...settings,
  });
  return {
    allowedHosts: config.OUTBOUND_ALLOWED_HOSTS,
    llm: {
      baseUrl: config.LLM_BASE_URL,
      apiKey: config.LLM_API_KEY,
      prices: config.LLM_PRICES,
      timeoutMs: config.LLM_TIMEOUT_MS,
    },
  };
}
