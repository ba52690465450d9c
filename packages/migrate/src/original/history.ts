import type { mongo } from 'mongoose';
import { derivedObjectId } from '../deterministic.js';
import { insertOnce } from './target-writes.js';
import { dateOf } from './dates.js';

/**
 * Keyword and option history, per template (research §2.10, §2.11, §1.1). The single-user
 * generation's `keyword_history` has Stepwise's shape already; the multi-user `weighted_keywords`
 * has no step, module or expiry: it is kept per template with an expiry far ahead, so what the
 * original weighed keeps counting until someone decides otherwise.
 */

export interface HistoryReport {
  keywords: number;
  option_usage: number;
  /** Rows whose template was not migrated. */
  without_template: number;
}

const FAR_AHEAD = new Date('9999-12-31T00:00:00.000Z');
const EPOCH = new Date(0);

const text = (value: unknown, fallback: string): string =>
  typeof value === 'string' ? value : fallback;
const date = (value: unknown, fallback: Date): Date => dateOf(value) ?? fallback;

export async function migrateHistory(
  source: mongo.Db,
  target: mongo.Db,
  templates: ReadonlyMap<string, unknown>,
): Promise<HistoryReport> {
  const report: HistoryReport = { keywords: 0, option_usage: 0, without_template: 0 };
  const keywordRows: mongo.Document[] = [];
  for (const name of ['keyword_history', 'weighted_keywords']) {
    for await (const row of source.collection(name).find().sort({ _id: 1 })) {
      const templateId = text(row['workflow_template_id'], '');
      if (!templates.has(templateId)) {
        report.without_template++;
        continue;
      }
      const keyword = text(row['keyword'], '').trim().toLowerCase();
      if (keyword === '') continue;
      const stepId = text(row['step_id'], '');
      const moduleName = text(row['module_name'], '');
      const lastUsed = date(row['last_used'], EPOCH);
      keywordRows.push({
        _id: derivedObjectId('original-keyword', name, String(row['_id'])),
        workflow_template_id: templateId,
        step_id: stepId,
        module_name: moduleName,
        keyword,
        total_weight:
          typeof row['total_weight'] === 'number'
            ? row['total_weight']
            : typeof row['weight'] === 'number'
              ? row['weight']
              : 1,
        last_used: lastUsed,
        expires: date(row['expires'], FAR_AHEAD),
        source: row['source'] === 'selected' ? 'selected' : 'generated',
        category: typeof row['category'] === 'string' ? row['category'] : null,
      });
    }
  }
  await insertOnce(target.collection('keyword_history'), keywordRows);
  report.keywords = keywordRows.length;

  const optionRows: mongo.Document[] = [];
  for await (const row of source.collection('option_usage').find().sort({ _id: 1 })) {
    const templateId = text(row['workflow_template_id'], '');
    if (!templates.has(templateId)) {
      report.without_template++;
      continue;
    }
    const created = date(row['created_at'], EPOCH);
    optionRows.push({
      _id: derivedObjectId('original-option-usage', String(row['_id'])),
      workflow_template_id: templateId,
      step_id: text(row['step_id'], ''),
      module_name: text(row['module_name'], ''),
      option: text(row['option'], ''),
      created_at: created,
      updated_at: date(row['updated_at'], created),
    });
  }
  await insertOnce(target.collection('option_usage'), optionRows);
  report.option_usage = optionRows.length;
  return report;
}
