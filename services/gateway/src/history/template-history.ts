import type { Models } from '@stepwise/shared/node';
import { findTemplate } from '../workflows/templates.js';

/** When each tracked option was last chosen, for one of the caller's templates. */
export async function readOptionUsage(
  models: Models,
  userId: string,
  name: string,
  filter: { step_id?: string | undefined; module_name?: string | undefined },
) {
  const template = await findTemplate(models, userId, name);
  const rows = await models.optionUsage
    .find({
      workflow_template_id: template.workflow_template_id,
      ...(filter.step_id ? { step_id: filter.step_id } : {}),
      ...(filter.module_name ? { module_name: filter.module_name } : {}),
    })
    .sort({ updated_at: 1 })
    .lean();
  // With no filter, one key may be tracked by several modules: the latest use wins.
  return {
    options: Object.fromEntries(rows.map((row) => [row.option, row.updated_at.toISOString()])),
  };
}

/** The template's keywords that have not expired, heaviest first. */
export async function readKeywords(
  models: Models,
  userId: string,
  name: string,
  filter: {
    step_id?: string | undefined;
    module_name?: string | undefined;
    category?: string | undefined;
    limit: number;
  },
  now = new Date(),
) {
  const template = await findTemplate(models, userId, name);
  const rows = await models.keywordHistory
    .find({
      workflow_template_id: template.workflow_template_id,
      expires: { $gt: now },
      ...(filter.step_id ? { step_id: filter.step_id } : {}),
      ...(filter.module_name ? { module_name: filter.module_name } : {}),
      ...(filter.category ? { category: filter.category } : {}),
    })
    .sort({ total_weight: -1, keyword: 1 })
    .limit(filter.limit)
    .lean();
  return {
    items: rows.map((row) => ({
      keyword: row.keyword,
      total_weight: row.total_weight,
      last_used: row.last_used.toISOString(),
      expires: row.expires.toISOString(),
      source: row.source,
      category: row.category,
      step_id: row.step_id,
      module_name: row.module_name,
    })),
  };
}
