import type { mongo } from 'mongoose';
import { BulkWriter } from './bulk-writer.js';
import { writeMultiUser } from './multi-user.js';
import { createOriginalIndexes } from './original-indexes.js';
import { sha256Hex } from './random.js';
import { writeSingleUser } from './single-user.js';
import type { OriginalGeneration } from './workflow-definition.js';

/**
 * Writes a database in the shapes the original system (SachiraChin/workflowmanager-showcase)
 * really stores, for either of its generations (docs/research/original-system.md), so the
 * migration is tested against the original's vocabulary instead of Stepwise's own.
 */

export type { OriginalGeneration } from './workflow-definition.js';
export { originalWorkflow } from './workflow-definition.js';
export { originalIndexes, type OriginalIndex } from './original-indexes.js';

export interface OriginalFixtureOptions {
  generation: OriginalGeneration;
  /** Top-level runs (sub-action child runs come on top). */
  runs: number;
  /** Everything derives from it: same seed, identical documents and files. */
  seed: string;
  /** Absolute dir acting as the original's MEDIA_BASE_PATH (multi-user only). */
  mediaDir: string;
  /** When the first run starts; default a fixed date, never the clock. */
  startTime?: Date;
}

export interface OriginalFixtureSummary {
  generation: OriginalGeneration;
  runs: number;
  events: number;
  event_type_counts: Record<string, number>;
  /** Runs awaiting input at a user.select or user.text_input question. */
  waiting_run_ids: string[];
  /** Plaintext wfk_ keys per user; [] for single-user. */
  users: { user_id: string; username: string; access_keys: string[] }[];
  tokens: number;
  workflow_files: number;
  media_files: number;
}

const defaultStartTime = new Date('2025-11-03T09:00:00.000Z');

export async function writeOriginalDatabase(
  db: mongo.Db,
  options: OriginalFixtureOptions,
): Promise<OriginalFixtureSummary> {
  const startMs = (options.startTime ?? defaultStartTime).getTime();
  const writer = new BulkWriter(db, sha256Hex(`${options.seed}:${options.generation}`).slice(0, 6));
  const result =
    options.generation === 'single-user'
      ? await writeSingleUser(writer, options.seed, options.runs, startMs)
      : await writeMultiUser(writer, options.seed, options.runs, startMs, options.mediaDir);
  await writer.close();
  await createOriginalIndexes(db, options.generation);
  return {
    generation: options.generation,
    runs: options.runs,
    events: result.events,
    event_type_counts: result.eventTypeCounts,
    waiting_run_ids: result.waitingRunIds,
    users: result.users,
    tokens: result.tokens,
    workflow_files: result.workflowFiles,
    media_files: result.mediaFiles,
  };
}
