import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { useTestDatabases } from './support/databases.js';
import { startTestGateway } from './support/gateway.js';

/**
 * The committed contract (packages/client/openapi.json) is the document the gateway serves, so
 * the generated client cannot drift from the API: a change to a route's declaration fails here
 * until `npm run contract:update` rewrites the file and regenerates the client's types.
 * With UPDATE_CONTRACT=1 the test writes the served document instead of comparing.
 */

const run = promisify(execFile);

const contractPath = new URL('../packages/client/openapi.json', import.meta.url);
const updating = process.env['UPDATE_CONTRACT'] === '1';

const db = await useTestDatabases('contract', { indexes: false });
const gateway = await startTestGateway(db);

describe('the committed OpenAPI contract', () => {
  it('is the document GET /openapi.json serves', async () => {
    const response = await gateway.request('/openapi.json');
    const text = await response.text();
    expect(response.status, text).toBe(200);
    const served: unknown = JSON.parse(text);
    if (updating) {
      // Two-space JSON with a final newline: what JSON.stringify gives, so a regeneration's diff
      // shows only what changed in the contract.
      writeFileSync(contractPath, `${JSON.stringify(served, null, 2)}\n`);
      return;
    }
    let committed: unknown;
    try {
      committed = JSON.parse(readFileSync(contractPath, 'utf8'));
    } catch (error) {
      throw new Error(
        `cannot read ${contractPath.pathname} (${String(error)}); run \`npm run contract:update\``,
      );
    }
    expect(
      served,
      'the served /openapi.json differs from packages/client/openapi.json: run `npm run contract:update` and commit the result',
    ).toEqual(committed);
  });

  // The types must be the ones generated from the committed contract, or the client compiles
  // against a document the gateway no longer serves. (Updating rewrites them after this test.)
  it.skipIf(updating)('is what packages/client/src/schema.ts was generated from', async () => {
    const generator = new URL('../packages/client/scripts/generate.mjs', import.meta.url);
    const outcome = await run(process.execPath, [generator.pathname, '--check']).then(
      () => 'up to date',
      (error: { stderr?: string }) => error.stderr ?? String(error),
    );
    expect(outcome).toBe('up to date');
  });
});
