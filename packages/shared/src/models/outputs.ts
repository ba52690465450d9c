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
    kind: { type: String, enum: ['deliverable', 'debug', 'state'], required: true },
    name: { type: String, required: true },
    content_type: { type: String, required: true },
    size: { type: Number, required: true },
    sha256: { type: String, required: true },
    file_id: { type: String, required: true },
    created_at: { type: Date, required: true },
  },
  { collection: 'artifacts', versionKey: false },
);
artifactSchema.index({ artifact_id: 1 }, { unique: true });
artifactSchema.index({ workflow_run_id: 1, created_at: 1 });

const tokenUsageSchema = new Schema<TokenUsageRecord>(
  {
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
  },
  { collection: 'tokens', versionKey: false },
);
tokenUsageSchema.index({ workflow_run_id: 1, created_at: 1 });

export function createOutputModels(connection: Connection) {
  return {
    artifacts: connection.model<ArtifactRecord>('Artifact', artifactSchema),
    tokens: connection.model<TokenUsageRecord>('TokenUsage', tokenUsageSchema),
  };
}
