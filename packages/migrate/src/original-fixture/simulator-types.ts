import type { OriginalGeneration } from './workflow-definition.js';

/**
 * What one simulated run is asked to do (its plan and identity) and what it produced, before a
 * generation's writer turns it into documents.
 */

export interface RunPlan {
  outcome: 'completed' | 'waiting' | 'error' | 'processing' | 'created';
  /** waiting: the module whose question stays open; error/processing: the api.llm that fails / is in flight. */
  stopAt: string | null;
  /** select_scene answers with "retry" this many times first (§4.3). */
  retries: number;
  /** The jump site answers "back to scene" this many times first (§4.4). */
  jumps: number;
  /** Write a workflow_resumed before the answer to this module's question. */
  resumeAt: string | null;
  /** Switch to this version when resuming (resume-with-update, §2.6). */
  resumeToVersionId: string | null;
  /** Crash after get_user_direction's answer, then recovery A1 forks and resumes (§4.4). */
  recoverAtDirection: boolean;
  /** The run was force_new-reset: its log starts at a workflow_created with reset: true (§4.2). */
  forceNewReset: boolean;
  llmProvider: 'openai' | 'anthropic';
}

export interface RunIdentity {
  run_id: string;
  project_name: string;
  project_path: string;
  workflow_path: string;
  workflow_template_id: string;
  workflow_template_name: string;
  workflow_version_id: string;
  start_ms: number;
  /** Absolute media base (the original's MEDIA_BASE_PATH), for the absolute local_path in selections (§6.3). */
  media_base: string;
  /** Where the jump back to select_scene is offered: review_image_prompts or generate_and_select_images. */
  jump_site: string;
}

/** How a module's simulation ended: go on, stop the run there, or re-enter the log elsewhere. */
export type ModuleResult =
  | { kind: 'done' }
  | { kind: 'stop'; status: RunStatus; waiting: SimulatedRun['waiting_kind'] }
  | { kind: 'restart'; step_id: string; module_name: string };

export interface SimulatedEvent {
  event_id: string;
  branch_id: string;
  event_type: string;
  step_id?: string;
  module_name?: string;
  data: Record<string, unknown>;
  timestamp: Date;
  /** The run's version at write time (§4.1); null on child runs, which have none (§2.1). */
  workflow_version_id: string | null;
}

export interface SimulatedBranch {
  branch_id: string;
  parent_branch_id: string | null;
  parent_event_id: string | null;
  lineage: { branch_id: string; cutoff_event_id: string | null }[];
  created_at: Date;
}

export interface SimulatedLlmCall {
  run_id: string;
  branch_id: string;
  step_id: string;
  step_name: string;
  module_name: string;
  module_index: number;
  provider: 'openai' | 'anthropic';
  model: string;
  prompt_tokens: number;
  completion_tokens: number;
  cached_tokens: number;
  total_tokens: number;
  at: Date;
  request: Record<string, unknown>;
  response: Record<string, unknown>;
}

export interface SimulatedContent {
  content_id: string;
  index: number;
  content_type: 'image' | 'video' | 'video.preview' | 'audio';
  extension: 'png' | 'mp4' | 'mp3';
  folder: 'images' | 'videos' | 'audio';
  seed: number;
  preview_content_id?: string;
}

export interface SimulatedMediaGeneration {
  run_id: string;
  step_id: string;
  step_name: string;
  module_name: string;
  module_index: number;
  metadata_id: string;
  task_id: string;
  interaction_id: string;
  provider: 'midjourney' | 'leonardo' | 'elevenlabs';
  operation: string;
  prompt_id: string;
  prompt: string;
  created_at: Date;
  completed_at: Date;
  contents: SimulatedContent[];
  total_cost: number;
  credits: number;
}

export interface SimulatedChildRun {
  run_id: string;
  parent_run_id: string;
  execution_id: string;
  branch_id: string;
  created_at: Date;
}

export interface SimulatedSavedFile {
  file_id: string;
  branch_id: string;
  step_id: string;
  filename: string;
  category: 'outputs' | 'root';
  group_id: string | null;
  content: Record<string, unknown>;
  target_path: string;
  at: Date;
}

export type RunStatus = 'created' | 'processing' | 'awaiting_input' | 'completed' | 'error';

export interface SimulatedRun {
  generation: OriginalGeneration;
  run_id: string;
  status: RunStatus;
  /** select / text_input when the run waits at such a question (the summary's waiting list). */
  waiting_kind: 'select' | 'text_input' | 'media' | null;
  current_branch_id: string;
  current_step: string | null;
  current_step_name: string | null;
  current_module: string | null;
  created_at: Date;
  updated_at: Date;
  completed_at: Date | null;
  /** Versions the run used, in order, with when it switched (creation, reset, resume-with-update). */
  version_history: { workflow_version_id: string; at: Date }[];
  current_version_id: string;
  branches: SimulatedBranch[];
  events: SimulatedEvent[];
  llm_calls: SimulatedLlmCall[];
  media: SimulatedMediaGeneration[];
  child_runs: SimulatedChildRun[];
  child_branches: SimulatedBranch[];
  /** Events of the child runs, keyed by the child's own run id (§4.2). */
  child_events: { run_id: string; events: SimulatedEvent[] }[];
  saved_files: SimulatedSavedFile[];
  /** (step_id, module_name, option id) picked at a select, for option_usage (§2.11). */
  option_picks: { step_id: string; module_name: string; option: string; at: Date }[];
  scene_keywords: {
    keyword: string;
    category: string;
    source: 'generated' | 'selected';
    at: Date;
  }[];
}
