import type { Models } from '@stepwise/shared/node';

export interface OptionScope {
  workflow_template_id: string;
  step_id: string;
  module_name: string;
}

/** When each option of a `user.select` was last chosen, per template (shared by its versions). */
export class OptionUsageStore {
  constructor(private readonly models: Models) {}

  async lastUsed(scope: OptionScope, keys: readonly string[]): Promise<Map<string, Date>> {
    if (keys.length === 0) return new Map();
    const rows = await this.models.optionUsage
      .find({ ...scope, option: { $in: [...new Set(keys)] } })
      .lean();
    return new Map(rows.map((row) => [row.option, row.updated_at]));
  }

  /** Idempotent: choosing again only moves `updated_at`. */
  async record(scope: OptionScope, keys: readonly string[], now = new Date()): Promise<void> {
    for (const option of new Set(keys)) {
      await this.models.optionUsage.updateOne(
        { ...scope, option },
        { $set: { updated_at: now }, $setOnInsert: { created_at: now } },
        { upsert: true },
      );
    }
  }
}
