import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The contract checked both ways over a whole test run (issue 15): every status a test saw an
 * operation answer is declared in the OpenAPI document, and every success status an operation
 * declares was produced by some test. Error statuses declared but never produced are reported,
 * not failed: every authenticated route can answer 503 or 429, and the suite proves those once
 * per kind of route rather than once per route.
 */

const repoRoot = new URL('../../', import.meta.url).pathname;
export const contractStatusDir = join(repoRoot, 'test-artifacts/contract-statuses');
const documentFile = join(repoRoot, 'packages/client/openapi.json');
const reportFile = join(repoRoot, 'test-artifacts/contract-coverage.json');

interface Seen {
  method: string;
  path: string;
  status: number;
}

/** `/v1/runs/:id` → `/v1/runs/{id}` */
const openApiPath = (path: string) => path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

export function resetContractStatuses(): void {
  rmSync(contractStatusDir, { recursive: true, force: true });
  mkdirSync(contractStatusDir, { recursive: true });
}

function readSeen(): Seen[] {
  if (!existsSync(contractStatusDir)) return [];
  return readdirSync(contractStatusDir)
    .filter((name) => name.endsWith('.jsonl'))
    .flatMap((name) =>
      readFileSync(join(contractStatusDir, name), 'utf8')
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map((line) => JSON.parse(line) as Seen),
    );
}

type Document = { paths: Record<string, Record<string, { responses?: Record<string, unknown> }>> };

export interface ContractCoverage {
  undeclared: string[];
  unproducedSuccess: string[];
  unproducedErrors: string[];
  unknownOperations: string[];
}

export function checkContractCoverage(): ContractCoverage {
  const document = JSON.parse(readFileSync(documentFile, 'utf8')) as Document;
  const seen = new Set(
    readSeen().map((entry) => `${entry.method} ${openApiPath(entry.path)} ${entry.status}`),
  );
  const declared = new Set<string>();
  const operations = new Set<string>();
  for (const [path, methods] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(methods)) {
      operations.add(`${method} ${path}`);
      for (const status of Object.keys(operation.responses ?? {}))
        declared.add(`${method} ${path} ${status}`);
    }
  }
  const operationOf = (key: string) => key.split(' ').slice(0, 2).join(' ');
  const statusOf = (key: string) => Number(key.split(' ')[2]);
  const coverage: ContractCoverage = {
    undeclared: [...seen].filter((key) => operations.has(operationOf(key)) && !declared.has(key)),
    unproducedSuccess: [...declared].filter((key) => statusOf(key) < 400 && !seen.has(key)),
    unproducedErrors: [...declared].filter((key) => statusOf(key) >= 400 && !seen.has(key)),
    unknownOperations: [...seen].filter((key) => !operations.has(operationOf(key))),
  };
  for (const list of Object.values(coverage) as string[][]) list.sort();
  writeFileSync(reportFile, `${JSON.stringify(coverage, null, 2)}\n`);
  return coverage;
}
