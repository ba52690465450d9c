/**
 * What the migration reads of the original system's collections, in both generations
 * (docs/research/original-system.md §1, §2, §4, §6, §8). Only the fields it reads; every one
 * optional where some database may lack it, because old documents were never rewritten.
 */

export type OriginalGeneration = 'single-user' | 'multi-user';

export interface OriginalRun {
  _id: unknown;
  /** Multi-user generation. */
  workflow_run_id?: string;
  /** Single-user generation (`workflows` collection). */
  workflow_id?: string;
  user_id?: string | null;
  project_name?: string | null;
  project_path?: string | null;
  /** The seed's name for `project_path` (legacy.md's table). */
  project_folder?: string | null;
  workflow_template_name?: string | null;
  workflow_template_id?: string | null;
  current_workflow_version_id?: string | null;
  current_branch_id?: string | null;
  status?: string | null;
  current_step?: string | null;
  created_at?: Date | null;
  updated_at?: Date | null;
  /** A sub-action's child run (`wf_sub_…`) names its parent (§2.1). */
  parent_workflow_id?: string | null;
}

export interface OriginalEvent {
  _id: unknown;
  event_id: string;
  workflow_run_id?: string;
  workflow_id?: string;
  branch_id?: string | null;
  workflow_version_id?: string | null;
  event_type: string;
  timestamp?: Date | null;
  data?: Record<string, unknown> | null;
  step_id?: string | null;
  module_name?: string | null;
}

export interface OriginalBranch {
  _id: unknown;
  branch_id: string;
  workflow_run_id?: string;
  workflow_id?: string;
  /** Multi-user: from the root to this branch, this one last with a null cutoff (§2.2). */
  lineage?: { branch_id: string; cutoff_event_id: string | null }[] | null;
  /** Single-user ("old format"): the parent and the parent's last included event (§4.4). */
  parent_branch_id?: string | null;
  parent_event_id?: string | null;
  /** The seed's name for `parent_event_id`. */
  branch_point_event_id?: string | null;
  created_at?: Date | null;
}

export interface OriginalTemplate {
  _id: unknown;
  workflow_template_id: string;
  workflow_template_name: string;
  user_id?: string | null;
  scope?: string | null;
  visibility?: string | null;
  derived_from?: string | null;
  created_at?: Date | null;
  updated_at?: Date | null;
}

export interface OriginalVersion {
  _id: unknown;
  workflow_version_id: string;
  workflow_template_id: string;
  content_hash?: string | null;
  source_type?: string | null;
  version_type?: string | null;
  parent_workflow_version_id?: string | null;
  requires?: unknown;
  resolved_workflow?: Record<string, unknown> | null;
  created_at?: Date | null;
}

export interface OriginalUser {
  _id: unknown;
  user_id: string;
  username: string;
  email?: string | null;
  created_at?: Date | null;
  updated_at?: Date | null;
  role?: string | null;
  is_active?: boolean | null;
  password_hash?: string | null;
}

export interface OriginalAccessKey {
  _id: unknown;
  access_key_id: string;
  user_id: string;
  access_key: string;
  name?: string | null;
  is_active?: boolean | null;
  created_at?: Date | null;
  last_used_at?: Date | null;
  revoked_at?: Date | null;
}

/** The run id, whichever generation wrote the document. */
export function runIdOf(document: { workflow_run_id?: string; workflow_id?: string }): string {
  return document.workflow_run_id ?? document.workflow_id ?? '';
}
