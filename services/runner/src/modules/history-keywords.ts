import { z } from 'zod';
import { builtInModuleDeclarations, type ExecutableModule } from '@stepwise/shared';
import { ModuleFailure } from '../engine/module-failure.js';
import { defaultTtlDays, type KeywordHistoryStore } from '../history/keyword-history.js';

export function createHistoryKeywords(store: KeywordHistoryStore): ExecutableModule {
  return {
    id: 'history.keywords',
    ...builtInModuleDeclarations['history.keywords'],
    interactive: false,
    outputs: z.object({ keywords: z.array(z.unknown()), saved: z.number().int().optional() }),
    async execute(inputs, context) {
      const scope = {
        workflow_template_id: context.run.workflow_template_id,
        step_id: context.run.step_id,
        module_name: context.run.module_name,
      };
      if (inputs['mode'] === 'save') {
        const raw = (inputs['keywords'] ?? []) as (
          string | { keyword: string; weight?: number; category?: string }
        )[];
        const category = typeof inputs['category'] === 'string' ? inputs['category'] : null;
        const entries = raw
          .map((item) =>
            typeof item === 'string'
              ? { keyword: item, weight: 1, category }
              : {
                  keyword: item.keyword,
                  weight: item.weight ?? 1,
                  category: item.category ?? category,
                },
          )
          .filter((entry) => entry.keyword.trim() !== '');
        const source = inputs['source'] === 'selected' ? 'selected' : 'generated';
        const ttlDays =
          typeof inputs['ttl_days'] === 'number' ? inputs['ttl_days'] : defaultTtlDays[source];
        await store.save(scope, entries, source, ttlDays, context.run.idempotency_key);
        return {
          saved: entries.length,
          keywords: entries.map((entry) => entry.keyword.trim().toLowerCase()),
        };
      }
      if (inputs['mode'] !== 'load')
        throw new ModuleFailure('INPUT_INVALID', "mode must be 'save' or 'load'", false);
      const rows = await store.load(
        {
          workflow_template_id: context.run.workflow_template_id,
          step_id: typeof inputs['step_id'] === 'string' ? inputs['step_id'] : undefined,
          module_name:
            typeof inputs['module_name'] === 'string' ? inputs['module_name'] : undefined,
          category: typeof inputs['category'] === 'string' ? inputs['category'] : undefined,
          source:
            inputs['source'] === 'selected' || inputs['source'] === 'generated'
              ? inputs['source']
              : undefined,
        },
        typeof inputs['limit'] === 'number' ? inputs['limit'] : 50,
      );
      return {
        keywords: rows.map((row) => ({
          keyword: row.keyword,
          total_weight: row.total_weight,
          source: row.source,
          category: row.category,
          last_used: row.last_used.toISOString(),
          expires: row.expires.toISOString(),
        })),
      };
    },
  };
}
