/** What the single-user schema holds (shared/spec legacy.md): only the fields the migration reads. */

export interface LegacyTemplate {
  _id: unknown;
  workflow_template_id: string;
  workflow_template_name: string;
  user_id?: string;
  created_at?: Date;
}

export interface LegacyVersion {
  workflow_version_id: string;
  workflow_template_id: string;
  created_at?: Date;
}

export type LegacyStatus = 'created' | 'processing' | 'awaiting_input' | 'completed' | 'error';

export interface LegacyWorkflow {
  _id: unknown;
  workflow_id: string;
  workflow_template_id: string;
  current_workflow_version_id?: string | null;
  project_folder?: string | null;
  status: LegacyStatus;
  current_step?: string | null;
  created_at?: Date;
  updated_at?: Date;
}

export interface LegacyEvent {
  _id: unknown;
  event_id: string;
  workflow_id?: string;
  workflow_run_id?: string;
  branch_id: string;
  event_type: string;
  data?: Record<string, unknown>;
  timestamp: Date;
  step_id?: string | null;
  module_name?: string | null;
}

export interface LegacyBranch {
  _id: unknown;
  branch_id: string;
  workflow_id?: string;
  workflow_run_id?: string;
  parent_branch_id?: string | null;
  branch_point_event_id?: string | null;
  status?: string;
  created_at?: Date;
}
