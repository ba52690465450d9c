import { Schema, type Connection } from 'mongoose';
import type { ArtifactRecord, TokenUsageRecord } from '../records.js';

const artifactSchema = new Schema<ArtifactRecord>(
  {
    artifact_id: { type: String, required: true },
    workflow_run_id: { type: String, required: true },
    user_id: { type: String, required: true },
    branch_id: { type: String, required: true },
    event_id: { type: String, default: null },
    step_id: { type: String, required: true },
    module_name: { type: String, required: true },
    kind: { type: String, enum: ['deliverable', 'debug', 'state', 'upload'], required: true },
    name: { type: String, required: true },
    content_type: { type: String, required: true },
    size: { type: Number, required: true },
    sha256: { type: String, required: true },
    file_id: { type: String, required: true },
    idempotency_key: { type: String, default: null },
    interaction_id: { type: String, default: null },
    deletion_id: { type: String },
    created_at: { type: Date, required: true },
  },
  { collection: 'artifacts', versionKey: false },
);
artifactSchema.index({ workflow_run_id: 1, artifact_id: 1 }, { unique: true });
artifactSchema.index({ workflow_run_id: 1, created_at: 1 });
// The orphan sweep: artifacts no committed event refers to yet, oldest first.
artifactSchema.index({ event_id: 1, created_at: 1 });

const tokenUsageSchema = new Schema<TokenUsageRecord>(
  {
    idempotency_key: { type: String, required: true },
    call_index: { type: Number, required: true },
    attempt: { type: Number, required: true },
    status: { type: String, enum: ['pending', 'completed', 'failed', 'lost'], required: true },
    workflow_run_id: { type: String, required: true },
    user_id: { type: String, required: true },
    branch_id: { type: String, required: true },
    step_id: { type: String, required: true },
    module_name: { type: String, required: true },
    provider: { type: String, required: true },
    model: { type: String, required: true },
    input_tokens: { type: Number, required: true },
    output_tokens: { type: Number, required: true },
    total_cost: { type: Number, required: true },
    created_at: { type: Date, required: true },
    completed_at: { type: Date, default: null },
  },
  { collection: 'tokens', versionKey: false },
);
tokenUsageSchema.index({ workflow_run_id: 1, created_at: 1 });
// One record per provider call of an attempt: a repeated write never adds a second (partial:
// records written before calls had keys have neither field). An attempt's key is its run's.
tokenUsageSchema.index(
  { workflow_run_id: 1, idempotency_key: 1, call_index: 1 },
  { unique: true, partialFilterExpression: { idempotency_key: { $exists: true } } },
);

export function createOutputModels(connection: Connection) {
  return {
    artifacts: connection.model<ArtifactRecord>('Artifact', artifactSchema),
    tokens: connection.model<TokenUsageRecord>('TokenUsage', tokenUsageSchema),
  };
}
