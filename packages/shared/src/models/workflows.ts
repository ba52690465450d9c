import { Schema, type Connection } from 'mongoose';
import type { WorkflowTemplateRecord, WorkflowVersionRecord } from '../records.js';

const templateSchema = new Schema<WorkflowTemplateRecord>(
  {
    workflow_template_id: { type: String, required: true },
    user_id: { type: String, required: true },
    workflow_template_name: { type: String, required: true },
    display_name: { type: String, default: null },
    created_at: { type: Date, required: true },
    updated_at: { type: Date, required: true },
  },
  { collection: 'workflow_templates', versionKey: false },
);
templateSchema.index({ user_id: 1, workflow_template_id: 1 }, { unique: true });
templateSchema.index({ user_id: 1, workflow_template_name: 1 }, { unique: true });

const versionSchema = new Schema<WorkflowVersionRecord>(
  {
    workflow_version_id: { type: String, required: true },
    workflow_template_id: { type: String, required: true },
    user_id: { type: String, required: true },
    content_hash: { type: String, required: true },
    raw_sha256: { type: String, required: true },
    source_type: { type: String, enum: ['zip', 'json'], required: true },
    resolved_workflow: { type: Schema.Types.Mixed, default: null },
    resolved_workflow_ref: { type: String, default: null },
    size: { type: Number, required: true },
    source_file_id: { type: String, default: null },
    created_at: { type: Date, required: true },
  },
  // `minimize: false` keeps empty objects a workflow author wrote (e.g. `"inputs": {}`).
  { collection: 'workflow_versions', versionKey: false, minimize: false },
);
// Sharded by owner (shard-keys.ts); a template is its owner's, so (template, content) is too.
versionSchema.index({ user_id: 1, workflow_version_id: 1 }, { unique: true });
versionSchema.index({ user_id: 1, workflow_template_id: 1, content_hash: 1 }, { unique: true });
versionSchema.index({ workflow_template_id: 1, created_at: -1 });

export function createWorkflowModels(connection: Connection) {
  return {
    templates: connection.model<WorkflowTemplateRecord>('WorkflowTemplate', templateSchema),
    versions: connection.model<WorkflowVersionRecord>('WorkflowVersion', versionSchema),
  };
}
