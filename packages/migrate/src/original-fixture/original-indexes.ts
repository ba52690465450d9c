import type { mongo } from 'mongoose';
import type { OriginalGeneration } from './workflow-definition.js';

/**
 * The indexes a real database of the original carries, per generation, so a migration meets its
 * unique keys and index names as they are. Built after the bulk inserts: building them once over
 * the finished collections is far cheaper than maintaining them through every insert.
 *
 * Where the original named an index, that name is given here; elsewhere it let the driver derive
 * one (`field_1_other_-1`), which this driver derives the same way.
 */

export interface OriginalIndex {
  key: Record<string, 1 | -1>;
  name?: string;
  unique?: true;
  sparse?: true;
}

/**
 * Single-user (research §1.1): only the indexes that m_3 later drops by name are known to have
 * existed. `workflows` keeps its indexes when renamed to `workflow_runs`, which is where m_3 finds
 * workflow_id_1 and project_path_1. Nothing is known of the other collections' indexes then.
 */
const singleUserIndexes: Record<string, OriginalIndex[]> = {
  workflows: [{ key: { workflow_id: 1 } }, { key: { project_path: 1 } }],
  branches: [{ key: { workflow_id: 1 } }],
  events: [{ key: { workflow_id: 1 } }],
  tokens: [{ key: { workflow_id: 1 } }],
  workflow_templates: [{ key: { workflow_template_name: 1 }, unique: true }],
};

/**
 * Multi-user: what m_0…m_12 leave behind (research §2, §3.1), plus task_queue's own (§2.14).
 * m_1's current_version_id_1 was replaced by m_4; m_5's initial_workflow_version_id_1 stays after
 * m_8 unsets the field, because m_8 never drops it. m_3's legacy indexes and keyword_history
 * (dropped by m_9) are gone.
 *
 * The two TTL indexes (refresh_tokens.expires_at, invitation_codes_expires_ttl) are built without
 * expireAfterSeconds: the fixture's dates lie in the past, so a real MongoDB's TTL monitor would
 * delete those documents within a minute of writing them, and a seed would no longer give one
 * database.
 */
const multiUserIndexes: Record<string, OriginalIndex[]> = {
  schema_migrations: [{ key: { migration_id: 1 }, unique: true }],
  users: [
    { key: { user_id: 1 }, unique: true },
    { key: { username: 1 }, unique: true },
    { key: { email: 1 }, unique: true, sparse: true },
  ],
  access_keys: [
    { key: { access_key_id: 1 }, unique: true },
    { key: { access_key: 1 }, unique: true },
    { key: { user_id: 1 } },
    { key: { user_id: 1, is_active: 1 } },
  ],
  refresh_tokens: [
    { key: { token_id: 1 }, unique: true },
    { key: { user_id: 1 } },
    { key: { token_hash: 1 } },
    { key: { expires_at: 1 } },
  ],
  workflow_runs: [
    { key: { workflow_run_id: 1 }, unique: true },
    { key: { workflow_template_id: 1 } },
    { key: { user_id: 1 } },
    { key: { current_workflow_version_id: 1 } },
    { key: { initial_workflow_version_id: 1 } },
  ],
  branches: [
    { key: { branch_id: 1 }, unique: true },
    { key: { workflow_run_id: 1, branch_id: 1 } },
    { key: { parent_branch_id: 1 } },
  ],
  events: [
    { key: { workflow_run_id: 1, branch_id: 1, event_id: 1 } },
    { key: { workflow_run_id: 1, event_type: 1 } },
    { key: { workflow_run_id: 1, module_name: 1, event_id: -1 } },
    { key: { workflow_run_id: 1, timestamp: 1 } },
    { key: { workflow_version_id: 1 } },
  ],
  tokens: [{ key: { workflow_run_id: 1, timestamp: 1 } }],
  workflow_templates: [
    { key: { workflow_template_id: 1 }, unique: true },
    { key: { user_id: 1, workflow_template_name: 1 }, unique: true },
    { key: { user_id: 1 } },
  ],
  workflow_versions: [
    { key: { workflow_version_id: 1 }, unique: true },
    { key: { workflow_template_id: 1, content_hash: 1 }, unique: true },
    { key: { workflow_template_id: 1 } },
    { key: { parent_workflow_version_id: 1 } },
    { key: { version_type: 1 } },
  ],
  workflow_files: [
    { key: { file_id: 1 }, unique: true },
    { key: { workflow_run_id: 1 } },
    { key: { branch_id: 1 } },
    { key: { workflow_run_id: 1, branch_id: 1, category: 1, group_id: 1 } },
    { key: { workflow_run_id: 1, branch_id: 1, category: 1, filename: 1 } },
    { key: { workflow_run_id: 1, 'metadata.step_id': 1 } },
  ],
  option_usage: [
    { key: { workflow_template_id: 1, step_id: 1, module_name: 1, option: 1 }, unique: true },
  ],
  config: [{ key: { type: 1, name: 1 }, unique: true }],
  workflow_run_version_history: [
    { key: { workflow_run_id: 1 } },
    { key: { workflow_version_id: 1 } },
  ],
  weighted_keywords: [
    {
      key: { workflow_template_id: 1, keyword: 1 },
      name: 'workflow_template_keyword_unique',
      unique: true,
    },
    {
      key: { workflow_template_id: 1, category: 1, weight: -1 },
      name: 'workflow_template_category_weight',
    },
  ],
  content_generation_metadata: [
    { key: { workflow_run_id: 1 }, name: 'cgm_workflow_run_id' },
    { key: { interaction_id: 1 }, name: 'cgm_interaction_id' },
    { key: { workflow_run_id: 1, prompt_id: 1 }, name: 'cgm_workflow_prompt' },
  ],
  generated_content: [
    { key: { workflow_run_id: 1 }, name: 'gc_workflow_run_id' },
    { key: { content_generation_metadata_id: 1 }, name: 'gc_metadata_id' },
  ],
  invitation_codes: [
    { key: { code: 1 }, name: 'invitation_codes_code_unique', unique: true },
    { key: { expires_at: 1 }, name: 'invitation_codes_expires_ttl' },
    { key: { is_active: 1, code: 1 }, name: 'invitation_codes_active_code' },
  ],
  task_queue: [
    {
      key: { status: 1, concurrency_identifier: 1, priority: -1, created_at: 1 },
      name: 'poll_tasks_idx',
    },
    { key: { status: 1, heartbeat_at: 1 }, name: 'stale_tasks_idx' },
    { key: { task_id: 1 }, name: 'task_id_idx', unique: true },
    { key: { 'payload.workflow_run_id': 1, created_at: -1 }, name: 'workflow_tasks_idx' },
    { key: { 'payload.interaction_id': 1, created_at: -1 }, name: 'interaction_tasks_idx' },
  ],
};

export function originalIndexes(generation: OriginalGeneration): Record<string, OriginalIndex[]> {
  return generation === 'single-user' ? singleUserIndexes : multiUserIndexes;
}

/** Builds a generation's indexes; a collection the fixture left empty is created, as m_1 did. */
export async function createOriginalIndexes(
  db: mongo.Db,
  generation: OriginalGeneration,
): Promise<void> {
  await Promise.all(
    Object.entries(originalIndexes(generation)).map(([collection, indexes]) =>
      db.collection(collection).createIndexes(indexes.map((index) => ({ ...index }))),
    ),
  );
}
