import { appendFileSync, mkdirSync } from 'node:fs';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { contractStatusDir } from './contract-coverage.js';

/**
 * Records which status each declared operation answered during the tests, so that the suite can
 * check the contract both ways (contract-coverage.ts): every status a test saw is declared, and
 * every declared success status was produced by some test. Each test process appends what it saw
 * first to its own file under test-artifacts/contract-statuses.
 */

const seen = new Set<string>();

/** The operation the gateway matched (route-builder sets it on the request context). */
function operationOf(locals: unknown): { method: string; path: string } | null {
  const context = (locals as { stepwise?: { operation?: unknown } } | undefined)?.stepwise;
  const operation = context?.operation as { method?: unknown; path?: unknown } | null | undefined;
  if (typeof operation?.method !== 'string' || typeof operation.path !== 'string') return null;
  return { method: operation.method, path: operation.path };
}

export function recordContractStatuses(server: Server): void {
  const directory = contractStatusDir;
  mkdirSync(directory, { recursive: true });
  const file = join(directory, `${process.pid}.jsonl`);
  server.on('request', (_req, res) => {
    // 'close' rather than 'finish': an event stream ends when the client leaves, never finishing.
    res.on('close', () => {
      if (!res.headersSent) return;
      const operation = operationOf((res as { locals?: unknown }).locals);
      // A 405 belongs to the path, not to a declared operation; unmatched paths have none.
      if (!operation || res.statusCode === 405) return;
      const entry = JSON.stringify({ ...operation, status: res.statusCode });
      if (seen.has(entry)) return;
      seen.add(entry);
      appendFileSync(file, `${entry}\n`);
    });
  });
}
