import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import {
  ConfigError,
  gatewayEnvSchema,
  parseEnv,
  renderConfigTable,
  runnerEnvSchema,
  serviceEnvSchemas,
  type ServiceName,
} from '../src/config.js';

const repoFile = (path: string) =>
  readFileSync(new URL(`../../../${path}`, import.meta.url), 'utf8');

const minimalGatewayEnv = {
  MONGO_URL: 'mongodb://127.0.0.1:27017/stepwise',
  REDIS_URL: 'redis://127.0.0.1:6379',
  ADMIN_TOKEN: 'a-long-enough-admin-token',
};

function configErrorOf(run: () => unknown): ConfigError {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('configuration', () => {
  it('fills defaults and converts types', () => {
    const config = parseEnv(gatewayEnvSchema, minimalGatewayEnv);
    expect(config.PORT).toBe(8080);
    expect(config.QUEUE_PREFIX).toBe('{stepwise}');
    expect(config.MAX_UPLOAD_BYTES).toBe(20 * 1024 * 1024);
    const runner = parseEnv(runnerEnvSchema, {
      ...minimalGatewayEnv,
      OUTBOUND_ALLOWED_HOSTS: ' a.com, b.org ,',
    });
    expect(runner.OUTBOUND_ALLOWED_HOSTS).toEqual(['a.com', 'b.org']);
  });

  it('names a missing variable', () => {
    const error = configErrorOf(() =>
      parseEnv(gatewayEnvSchema, { ...minimalGatewayEnv, ADMIN_TOKEN: undefined }),
    );
    expect(error.problems).toEqual([
      { variable: 'ADMIN_TOKEN', message: 'is required but not set' },
    ]);
    expect(error.message).toContain('ADMIN_TOKEN: is required');
  });

  it('names every bad value with the reason', () => {
    const error = configErrorOf(() =>
      parseEnv(gatewayEnvSchema, {
        ...minimalGatewayEnv,
        PORT: 'eighty',
        // Braces may only wrap the whole namespace: each queue's tag is made inside it.
        QUEUE_PREFIX: '{step}wise',
        MONGO_URL: 'postgres://x',
        ADMIN_TOKEN: 'short',
      }),
    );
    expect(error.problems.map((p) => p.variable).sort()).toEqual([
      'ADMIN_TOKEN',
      'MONGO_URL',
      'PORT',
      'QUEUE_PREFIX',
    ]);
    expect(error.problems.find((p) => p.variable === 'QUEUE_PREFIX')?.message).toMatch(/hash tag/);
  });

  it('takes a Redis Cluster as seed node URLs, and refuses a half-written list', () => {
    const cluster = parseEnv(gatewayEnvSchema, {
      ...minimalGatewayEnv,
      REDIS_URL: 'redis://10.0.0.1:7000, redis://10.0.0.2:7000',
      REDIS_CLUSTER: 'true',
    });
    expect(cluster.REDIS_CLUSTER).toBe(true);
    expect(parseEnv(gatewayEnvSchema, minimalGatewayEnv).REDIS_CLUSTER).toBe(false);
    expect(
      parseEnv(gatewayEnvSchema, { ...minimalGatewayEnv, QUEUE_PREFIX: 'acme' }).QUEUE_PREFIX,
    ).toBe('acme');
    const error = configErrorOf(() =>
      parseEnv(gatewayEnvSchema, {
        ...minimalGatewayEnv,
        REDIS_URL: 'redis://10.0.0.1:7000,10.0.0.2:7000',
        REDIS_CLUSTER: 'yes',
      }),
    );
    expect(error.problems.map((p) => p.variable).sort()).toEqual(['REDIS_CLUSTER', 'REDIS_URL']);
  });

  it('treats an empty variable as unset', () => {
    expect(parseEnv(gatewayEnvSchema, { ...minimalGatewayEnv, PORT: '' }).PORT).toBe(8080);
  });

  it("keeps the README's configuration table equal to the schemas", () => {
    const readme = repoFile('README.md');
    const start = readme.indexOf('<!-- config-table:start -->');
    const end = readme.indexOf('<!-- config-table:end -->');
    expect(start).toBeGreaterThan(-1);
    // Compare cell by cell: Prettier may pad the README's columns.
    const cells = (table: string) =>
      table
        .trim()
        .split('\n')
        .filter((line) => !/^\|[\s|:-]+\|$/.test(line))
        .map((line) => line.split('|').map((cell) => cell.trim()));
    const documented = readme.slice(start, end).split('\n').slice(1).join('\n');
    expect(cells(documented)).toEqual(cells(renderConfigTable()));
  });

  it('accepts every variable docker-compose.yml sets, and only those', () => {
    const compose = parseYaml(repoFile('docker-compose.yml'), { merge: true }) as {
      services: Record<string, { environment?: Record<string, string> }>;
    };
    for (const service of Object.keys(serviceEnvSchemas) as ServiceName[]) {
      const environment = compose.services[service]?.environment;
      expect(environment, `${service} has an environment`).toBeDefined();
      const schema = serviceEnvSchemas[service];
      const known = new Set(Object.keys(schema.shape));
      const unknown = Object.keys(environment ?? {}).filter((name) => !known.has(name));
      expect(unknown, `${service} sets variables its config does not read`).toEqual([]);
      // Compose interpolates `${NAME:-fallback}`; the fallback is what a fresh `up` uses.
      const interpolated = Object.fromEntries(
        Object.entries(environment ?? {}).map(([name, value]) => [
          name,
          String(value).replace(/\$\{[A-Z_]+:-([^}]*)\}/g, '$1'),
        ]),
      );
      expect(() => parseEnv(schema, interpolated), service).not.toThrow();
    }
  });
});
