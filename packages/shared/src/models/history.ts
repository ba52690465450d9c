import { Schema, type Connection } from 'mongoose';
import type { KeywordHistoryRecord, OptionUsageRecord } from '../records.js';

const keywordHistorySchema = new Schema<KeywordHistoryRecord>(
  {
    workflow_template_id: { type: String, required: true },
    step_id: { type: String, required: true },
    module_name: { type: String, required: true },
    keyword: { type: String, required: true },
    total_weight: { type: Number, required: true },
    last_used: { type: Date, required: true },
    expires: { type: Date, required: true },
    source: { type: String, enum: ['generated', 'selected'], required: true },
    category: { type: String, default: null },
    counted_keys: { type: [String], default: undefined },
  },
  { collection: 'keyword_history', versionKey: false },
);
keywordHistorySchema.index(
  { workflow_template_id: 1, step_id: 1, module_name: 1, keyword: 1 },
  { unique: true },
);
// Expiry is a scheduled cleanup job rather than a TTL index (see docs/architecture.md).
keywordHistorySchema.index({ expires: 1 });

const optionUsageSchema = new Schema<OptionUsageRecord>(
  {
    workflow_template_id: { type: String, required: true },
    step_id: { type: String, required: true },
    module_name: { type: String, required: true },
    option: { type: String, required: true },
    created_at: { type: Date, required: true },
    updated_at: { type: Date, required: true },
  },
  { collection: 'option_usage', versionKey: false },
);
optionUsageSchema.index(
  { workflow_template_id: 1, step_id: 1, module_name: 1, option: 1 },
  { unique: true },
);

export function createHistoryModels(connection: Connection) {
  return {
    keywordHistory: connection.model<KeywordHistoryRecord>('KeywordHistory', keywordHistorySchema),
    optionUsage: connection.model<OptionUsageRecord>('OptionUsage', optionUsageSchema),
  };
}
