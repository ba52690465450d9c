import type { KeywordHistoryRecord } from '@stepwise/shared';
import { scatterGather, type Models } from '@stepwise/shared/node';

const DAY_MS = 24 * 3600 * 1000;
export const defaultTtlDays = { generated: 5, selected: 10 } as const;
/** Attempts remembered per keyword: far more than one run can repeat before it moves on. */
const COUNTED_KEYS_KEPT = 20;

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

  /**
   * Adds the keywords' weights once per attempt: each keyword remembers the keys of the last
   * attempts that counted it, so an attempt run again after a crash (same key) adds nothing.
   */
  async save(
    scope: KeywordScope,
    keywords: readonly KeywordToSave[],
    source: 'generated' | 'selected',
    ttlDays: number,
    attemptKey: string,
    now = new Date(),
  ): Promise<void> {
    const expires = new Date(now.getTime() + ttlDays * DAY_MS);
    // One write per keyword: the same keyword twice in one save (any case) adds both weights.
    const merged = new Map<string, KeywordToSave>();
    for (const entry of keywords) {
      const name = entry.keyword.trim().toLowerCase();
      const seen = merged.get(name);
      merged.set(
        name,
        seen
          ? {
              keyword: name,
              weight: seen.weight + entry.weight,
              category: entry.category ?? seen.category,
            }
          : { ...entry, keyword: name },
      );
    }
    for (const entry of merged.values()) {
      const keyword = { ...scope, keyword: entry.keyword };
      const filter = { ...keyword, counted_keys: { $ne: attemptKey } };
      const update = {
        $inc: { total_weight: entry.weight },
        $push: { counted_keys: { $each: [attemptKey], $slice: -COUNTED_KEYS_KEPT } },
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
        // The keyword exists and this attempt already counted it (the upsert's insert collides),
        // or two first saves raced to insert: the update finds the document if it still counts.
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
    const result = await this.models.keywordHistory
      .deleteMany({ expires: { $lte: now } })
      .comment(scatterGather('sweep:expired-keywords'));
    return result.deletedCount;
  }
}
