import { createHash, randomBytes } from 'node:crypto';
import { mongo, type Connection } from 'mongoose';
import { newId } from '@stepwise/shared';
import type { Models } from '@stepwise/shared/node';

/**
 * Runs written straight through the models and GridFS, in the shapes the services write them,
 * for tests that need many (a user deletion of 1,000 runs, retention over runs of known ages)
 * faster than driving each through the API.
 */

export interface SeedOptions {
  userId: string;
  /** Hex digits every run id of this seed begins with (after `run_`), to tell them apart. */
  runIdPrefix: string;
  runs: number;
  /** Bytes of one artifact per run (0: none). */
  artifactBytes: number;
  status?: 'completed' | 'error' | 'cancelled' | 'awaiting_input';
  /** When each run finished (its updated_at); now by default. */
  finishedAt?: (index: number) => Date;
  templatesOf?: number;
}

export interface SeededRuns {
  runIds: string[];
  templateIds: string[];
  /** GridFS file ids (hex) of the artifacts, by run id. */
  artifactFiles: Map<string, string>;
  artifactIds: Map<string, string>;
}

const CHUNK_SIZE = 255 * 1024;

export function seededRunId(prefix: string): string {
  return `run_${prefix}${randomBytes(12).toString('hex')}`.slice(0, 28);
}

/** Writes GridFS file `bytes` of bucket `artifacts` the way the driver's upload does. */
async function insertArtifactFile(
  connection: Connection,
  files: { _id: mongo.ObjectId; bytes: Buffer; name: string; metadata: Record<string, unknown> }[],
): Promise<void> {
  const db = connection.db;
  if (!db) throw new Error('not connected');
  const chunks = files.flatMap((file) =>
    Array.from({ length: Math.max(1, Math.ceil(file.bytes.length / CHUNK_SIZE)) }, (_, n) => ({
      _id: new mongo.ObjectId(),
      files_id: file._id,
      n,
      data: new mongo.Binary(file.bytes.subarray(n * CHUNK_SIZE, (n + 1) * CHUNK_SIZE)),
    })),
  );
  await db.collection('artifacts.chunks').insertMany(chunks);
  await db.collection('artifacts.files').insertMany(
    files.map((file) => ({
      _id: file._id,
      length: file.bytes.length,
      chunkSize: CHUNK_SIZE,
      uploadDate: new Date(),
      filename: file.name,
      metadata: file.metadata,
    })),
  );
}

/** Seeds templates, versions and `runs` runs with their log, commands, usage and artifacts. */
export async function seedRuns(
  connection: Connection,
  models: Models,
  options: SeedOptions,
): Promise<SeededRuns> {
  const now = new Date();
  const templateIds: string[] = [];
  const templateNames: string[] = [];
  const versionIds: string[] = [];
  for (let t = 0; t < (options.templatesOf ?? 2); t++) {
    const templateId = newId('template');
    const versionId = newId('version');
    const templateName = `seeded_${templateId.slice(-12)}`;
    templateIds.push(templateId);
    templateNames.push(templateName);
    versionIds.push(versionId);
    await models.templates.collection.insertOne({
      workflow_template_id: templateId,
      user_id: options.userId,
      workflow_template_name: templateName,
      display_name: null,
      created_at: now,
      updated_at: now,
    });
    await models.versions.collection.insertOne({
      workflow_version_id: versionId,
      workflow_template_id: templateId,
      user_id: options.userId,
      content_hash: `sha256:${versionId}`,
      raw_sha256: createHash('sha256').update(versionId).digest('hex'),
      source_type: 'json',
      resolved_workflow: { workflow_id: `seeded_${t}`, steps: [] },
      resolved_workflow_ref: null,
      size: 10,
      source_file_id: null,
      created_at: now,
    });
    await models.keywordHistory.collection.insertOne({
      workflow_template_id: templateId,
      step_id: 'ideas',
      module_name: 'keywords',
      keyword: 'cats',
      total_weight: 3,
      last_used: now,
      expires: new Date(now.getTime() + 30 * 24 * 3_600_000),
      source: 'generated',
      category: null,
    });
  }
  const seeded: SeededRuns = {
    runIds: [],
    templateIds,
    artifactFiles: new Map(),
    artifactIds: new Map(),
  };
  const BATCH = 100;
  for (let start = 0; start < options.runs; start += BATCH) {
    const runs = [];
    const events = [];
    const branches = [];
    const commands = [];
    const tokens = [];
    const artifacts = [];
    const owners = [];
    const files = [];
    for (let index = start; index < Math.min(options.runs, start + BATCH); index++) {
      const runId = seededRunId(options.runIdPrefix);
      seeded.runIds.push(runId);
      const template = index % templateIds.length;
      const templateId = templateIds[template] ?? '';
      const versionId = versionIds[template] ?? '';
      const branchId = newId('branch');
      const finishedAt = options.finishedAt?.(index) ?? now;
      const status = options.status ?? 'completed';
      runs.push({
        workflow_run_id: runId,
        workflow_template_id: templateId,
        workflow_template_name: templateNames[template] ?? '',
        user_id: options.userId,
        initial_version_id: versionId,
        current_version_id: versionId,
        project_name: 'seeded',
        initial_state: { topic: 'cats' },
        status,
        current_step: null,
        current_module: null,
        pending_interaction: null,
        error: null,
        active_branch_id: branchId,
        last_seq: 3,
        command_seq: 1,
        applied_command_seq: 1,
        command_accepted_at: finishedAt,
        last_rejection: null,
        snapshot: {
          branch_id: branchId,
          as_of_seq: 3,
          status,
          state: { topic: 'cats', draft: `draft ${index}` },
          cursor: null,
        },
        outbox: [],
        lease_holder: null,
        lease_expires_at: null,
        lease_fence: 1,
        created_at: new Date(finishedAt.getTime() - 60_000),
        updated_at: finishedAt,
      });
      branches.push({
        branch_id: branchId,
        workflow_run_id: runId,
        parent_branch_id: null,
        branch_point_event_id: null,
        lineage: [],
        status: 'active',
        created_at: finishedAt,
      });
      const commandId = newId('command');
      const correlationId = newId('correlation');
      for (const [seq, type] of [
        [1, 'run_started'],
        [2, 'module_completed'],
        [3, 'run_completed'],
      ] as const)
        events.push({
          event_id: newId('event'),
          workflow_run_id: runId,
          workflow_version_id: versionId,
          branch_id: branchId,
          seq,
          event_type: type,
          step_id: seq === 2 ? 'work' : null,
          module_name: seq === 2 ? 'draft' : null,
          data: seq === 2 ? { outputs: { text: `draft ${index}` } } : {},
          timestamp: finishedAt,
          correlation_id: correlationId,
          command_id: seq === 1 ? commandId : null,
          actor: null,
        });
      commands.push({
        command_id: commandId,
        workflow_run_id: runId,
        user_id: options.userId,
        seq: 1,
        type: 'start',
        payload: {},
        correlation_id: correlationId,
        actor: null,
        status: 'applied',
        error: null,
        accepted_at: finishedAt,
        finished_at: finishedAt,
      });
      tokens.push({
        idempotency_key: `${runId}:1`,
        call_index: 0,
        attempt: 1,
        status: 'completed',
        workflow_run_id: runId,
        user_id: options.userId,
        branch_id: branchId,
        step_id: 'work',
        module_name: 'draft',
        provider: 'openai',
        model: 'gpt-4o-mini',
        input_tokens: 120,
        output_tokens: 80,
        total_cost: 0.0002,
        created_at: finishedAt,
        completed_at: finishedAt,
      });
      if (options.artifactBytes > 0) {
        const artifactId = newId('artifact');
        const fileId = new mongo.ObjectId();
        const bytes = randomBytes(options.artifactBytes);
        files.push({
          _id: fileId,
          bytes,
          name: 'draft.bin',
          metadata: {
            artifact_id: artifactId,
            workflow_run_id: runId,
            content_type: 'application/octet-stream',
          },
        });
        seeded.artifactFiles.set(runId, fileId.toHexString());
        seeded.artifactIds.set(runId, artifactId);
        owners.push({ artifact_id: artifactId, workflow_run_id: runId, user_id: options.userId });
        artifacts.push({
          artifact_id: artifactId,
          workflow_run_id: runId,
          user_id: options.userId,
          branch_id: branchId,
          event_id: events.at(-2)?.event_id ?? null,
          step_id: 'work',
          module_name: 'keep',
          kind: 'deliverable',
          name: 'draft.bin',
          content_type: 'application/octet-stream',
          size: bytes.length,
          sha256: createHash('sha256').update(bytes).digest('hex'),
          file_id: fileId.toHexString(),
          idempotency_key: `${runId}:1`,
          interaction_id: null,
          created_at: finishedAt,
        });
      }
    }
    await models.runs.collection.insertMany(runs);
    await models.events.collection.insertMany(events);
    await models.branches.collection.insertMany(branches);
    await models.runCommands.collection.insertMany(commands);
    await models.tokens.collection.insertMany(tokens);
    if (files.length > 0) {
      await insertArtifactFile(connection, files);
      await models.artifactOwners.collection.insertMany(owners);
      await models.artifacts.collection.insertMany(artifacts);
    }
  }
  return seeded;
}
