import type { KeywordHistoryRecord } from '@stepwise/shared';
import type { Models } from '@stepwise/shared/node';

const DAY_MS = 24 * 3600 * 1000;
export const defaultTtlDays = { generated: 5, selected: 10 } as const;

export interface KeywordToSave {
  keyword: string;
  weight: number;
  category: string | null;
}

export interface KeywordScope {
  workflow_template_id: string;
  step_id: string;
  module_name: string;
}

function isDuplicateKey(error: unknown): boolean {
  return (error as { code?: unknown }).code === 11000;
}

/**
 * The template's keyword memory, as the original system kept it: saving adds weight and renews
 * `last_used`; expiry is `ttl_days` from now, never earlier than it already was (so saving a
 * keyword as `selected` extends it); keywords compare case-insensitively. Every change is one
 * atomic upsert with `$inc`, so parallel runs never lose a weight.
 */
export class KeywordHistoryStore {
  constructor(private readonly models: Models) {}

  async save(
    scope: KeywordScope,
    keywords: readonly KeywordToSave[],
    source: 'generated' | 'selected',
    ttlDays: number,
    now = new Date(),
  ): Promise<void> {
    const expires = new Date(now.getTime() + ttlDays * DAY_MS);
    for (const entry of keywords) {
      const filter = { ...scope, keyword: entry.keyword.trim().toLowerCase() };
      const update = {
        $inc: { total_weight: entry.weight },
        $set: {
          last_used: now,
          source,
          ...(entry.category === null ? {} : { category: entry.category }),
        },
        $max: { expires },
        ...(entry.category === null ? { $setOnInsert: { category: null } } : {}),
      };
      try {
        await this.models.keywordHistory.updateOne(filter, update, { upsert: true });
      } catch (error) {
        // Two first saves raced to insert: the loser's update now finds the winner's document.
        if (!isDuplicateKey(error)) throw error;
        await this.models.keywordHistory.updateOne(filter, update);
      }
    }
  }

  async load(
    filter: {
      workflow_template_id: string;
      step_id?: string | undefined;
      module_name?: string | undefined;
      category?: string | undefined;
      source?: 'generated' | 'selected' | undefined;
    },
    limit: number,
    now = new Date(),
  ): Promise<KeywordHistoryRecord[]> {
    const query: Record<string, unknown> = {
      workflow_template_id: filter.workflow_template_id,
      expires: { $gt: now },
    };
    for (const key of ['step_id', 'module_name', 'category', 'source'] as const) {
      if (filter[key] !== undefined) query[key] = filter[key];
    }
    return this.models.keywordHistory
      .find(query)
      .sort({ total_weight: -1, keyword: 1 })
      .limit(limit)
      .lean();
  }

  /** The scheduled cleanup: removes every expired keyword. */
  async deleteExpired(now = new Date()): Promise<number> {
    const result = await this.models.keywordHistory.deleteMany({ expires: { $lte: now } });
    return result.deletedCount;
  }
}
