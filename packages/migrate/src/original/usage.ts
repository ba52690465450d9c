import type { mongo } from 'mongoose';
import { derivedObjectId } from '../deterministic.js';
import type { MigratedRunFacts } from './run-facts.js';
import { insertOnce } from './target-writes.js';
import { dateOf } from './dates.js';

/**
 * Usage (`tokens`, research §6.1) as Stepwise's per-call records. The multi-user generation keeps
 * one provider node per record under a key with a dot (`"llm.openai"`, `"media.leonardo"`); the
 * single-user one has flat token counts and no cost. Each record becomes one completed call; the
 * original node is kept beside it, so nothing it counted (cached tokens, credits) is lost.
 */

export interface UsageReport {
  records: number;
  /** Records whose run was not migrated (or never existed): kept out, listed by source `_id`. */
  without_run: string[];
}

interface OriginalTokenRecord {
  _id: unknown;
  workflow_run_id?: string;
  workflow_id?: string;
  timestamp?: Date | null;
  step_id?: string | null;
  module_name?: string | null;
  module_index?: number | null;
  [field: string]: unknown;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const count = (value: unknown): number =>
  typeof value === 'number' && Number.isFinite(value) && value >= 0 ? Math.round(value) : 0;
const cost = (value: unknown): number =>
  typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : 0;

/** The provider node of a record (`llm.*` / `media.*`), or null for the flat format. */
function providerNode(record: OriginalTokenRecord): [string, Record<string, unknown>] | null {
  for (const [key, value] of Object.entries(record)) {
    if (/^(llm|media)\./.test(key) && isRecord(value)) return [key, value];
  }
  return null;
}

export function usageRecordOf(record: OriginalTokenRecord, run: MigratedRunFacts, runId: string) {
  const node = providerNode(record);
  const fields = node ? node[1] : record;
  const created = dateOf(record.timestamp) ?? new Date(0);
  const sourceId = String(record._id);
  return {
    _id: derivedObjectId('original-token', sourceId),
    idempotency_key: `original-token:${sourceId}`,
    call_index: 0,
    attempt: 0,
    status: 'completed',
    workflow_run_id: runId,
    user_id: run.userId,
    branch_id: run.branchId,
    step_id: record.step_id ?? '',
    module_name: record.module_name ?? `module_${record.module_index ?? 0}`,
    provider: node ? node[0] : 'legacy',
    model: typeof fields['model'] === 'string' ? fields['model'] : 'unknown',
    input_tokens: count(fields['prompt_tokens'] ?? fields['input_tokens']),
    output_tokens: count(fields['completion_tokens'] ?? fields['output_tokens']),
    total_cost: cost(fields['total_cost']),
    created_at: created,
    completed_at: created,
    original: node ? { [node[0].replace('.', '_')]: node[1] } : { flat: true },
  };
}

export async function migrateUsage(
  source: mongo.Db,
  target: mongo.Db,
  runs: ReadonlyMap<string, MigratedRunFacts>,
): Promise<UsageReport> {
  const report: UsageReport = { records: 0, without_run: [] };
  let batch: mongo.Document[] = [];
  for await (const document of source
    .collection('tokens')
    .find()
    .sort({ _id: 1 })
    .batchSize(5_000)) {
    const record = document as unknown as OriginalTokenRecord;
    const runId = record.workflow_run_id ?? record.workflow_id ?? '';
    const run = runs.get(runId);
    if (!run) {
      report.without_run.push(String(record._id));
      continue;
    }
    batch.push(usageRecordOf(record, run, runId));
    report.records++;
    if (batch.length >= 5_000) {
      await insertOnce(target.collection('tokens'), batch);
      batch = [];
    }
  }
  await insertOnce(target.collection('tokens'), batch);
  return report;
}
