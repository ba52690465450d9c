import type { Connection } from 'mongoose';
import {
  BadRequestError,
  MAX_RUNS_PER_MIGRATION,
  NotFoundError,
  StepwiseError,
  migrationOutcomeKindSchema,
  newId,
  type Actor,
  type CreateMigrationBody,
  type MigrationCounts,
  type MigrationDryRun,
  type MigrationQuery,
  type MigrationRecord,
  type MigrationRunOutcome,
  type MigrationRunRecord,
  type MigrationView,
} from '@stepwise/shared';
import {
  MigrationPlanner,
  findMigrationCandidates,
  plannedOutcome,
  type JobQueue,
  type Models,
} from '@stepwise/shared/node';
import { findTemplate } from './templates.js';

/**
 * `POST /v1/templates/{name}/migrations` and `GET …/migrations/{id}` (versions.md, "Batch
 * migration"). Creating a migration fixes the runs it takes (in the impact report's order) and
 * hands it to the runners' `migrations` queue; a dry run decides about the same runs with the same
 * code and stores nothing.
 */

export interface MigrationDependencies {
  mongo: Connection;
  models: Models;
  migrationQueue: JobQueue<'migration'>;
}

async function targetVersion(
  models: Models,
  userId: string,
  templateId: string,
  versionId: string,
): Promise<void> {
  const found = await models.versions.exists({
    workflow_version_id: versionId,
    user_id: userId,
    workflow_template_id: templateId,
  });
  if (!found) {
    throw new StepwiseError('NOT_FOUND', `version '${versionId}' of this template not found`, [
      { path: 'body.to_version_id', message: 'not a version of this template' },
    ]);
  }
}

function countOutcomes(outcomes: readonly Pick<MigrationRunOutcome, 'outcome'>[]): MigrationCounts {
  const counts: MigrationCounts = {
    matched: outcomes.length,
    pending: 0,
    switched: 0,
    restarted_at: 0,
    skipped: 0,
    failed: 0,
  };
  for (const { outcome } of outcomes) counts[outcome ?? 'pending'] += 1;
  return counts;
}

export type CreatedMigration =
  { kind: 'dry_run'; body: MigrationDryRun } | { kind: 'created'; body: MigrationView };

export async function createMigration(
  deps: MigrationDependencies,
  input: {
    userId: string;
    templateName: string;
    actor: Actor;
    body: CreateMigrationBody;
    correlationId: string;
  },
): Promise<CreatedMigration> {
  const { body, userId } = input;
  const template = await findTemplate(deps.models, userId, input.templateName);
  await targetVersion(deps.models, userId, template.workflow_template_id, body.to_version_id);
  const candidates = await findMigrationCandidates(deps.models, {
    userId,
    templateId: template.workflow_template_id,
    toVersionId: body.to_version_id,
    filter: body.filter,
  });
  if (candidates.length > MAX_RUNS_PER_MIGRATION) {
    throw new StepwiseError(
      'CONFLICT',
      `the filter matches more than ${MAX_RUNS_PER_MIGRATION} runs; narrow it (by status, project, current version or run ids) and migrate in parts`,
      [{ path: 'body.filter', message: `matches more than ${MAX_RUNS_PER_MIGRATION} runs` }],
    );
  }

  if (body.dry_run) {
    const planner = new MigrationPlanner(deps, userId, body.to_version_id, body.policy);
    const decisions = await planner.decide(candidates);
    const outcomes = candidates.map((run, index): MigrationRunOutcome => {
      const decision = decisions[index];
      if (!decision) throw new Error('a decision per run');
      return {
        workflow_run_id: run.workflow_run_id,
        from_version_id: run.current_version_id,
        ...plannedOutcome(decision),
        command_id: null,
      };
    });
    return {
      kind: 'dry_run',
      body: {
        dry_run: true,
        workflow_template_name: template.workflow_template_name,
        to_version_id: body.to_version_id,
        policy: body.policy,
        filter: body.filter,
        counts: countOutcomes(outcomes),
        outcomes,
      },
    };
  }

  const now = new Date();
  const migrationId = newId('migration');
  const runs: MigrationRunRecord[] = candidates.map((run, position) => ({
    migration_id: migrationId,
    position,
    workflow_run_id: run.workflow_run_id,
    user_id: userId,
    from_version_id: run.current_version_id,
    outcome: null,
    restart_at: null,
    reason: null,
    error_code: null,
    command_id: null,
    settled_at: null,
  }));
  // The runs first: a migration is never visible without all of the runs it takes.
  if (runs.length > 0) await deps.models.migrationRuns.insertMany(runs, { ordered: false });
  const record: MigrationRecord = {
    migration_id: migrationId,
    user_id: userId,
    workflow_template_id: template.workflow_template_id,
    workflow_template_name: template.workflow_template_name,
    to_version_id: body.to_version_id,
    policy: body.policy,
    filter: body.filter,
    reuse_answers: body.reuse_answers === true,
    status: runs.length === 0 ? 'completed' : 'queued',
    matched: runs.length,
    correlation_id: input.correlationId,
    actor: input.actor,
    created_at: now,
    updated_at: now,
    finished_at: runs.length === 0 ? now : null,
  };
  await deps.models.migrations.create(record);
  if (runs.length > 0) {
    try {
      await deps.migrationQueue.enqueue(
        { migration_id: migrationId, user_id: userId },
        { jobId: migrationId },
      );
    } catch (error) {
      // No runner would ever take it: a migration that cannot be queued is not left behind.
      await deps.models.migrationRuns.deleteMany({ user_id: userId, migration_id: migrationId });
      await deps.models.migrations.deleteOne({ user_id: userId, migration_id: migrationId });
      throw error;
    }
  }
  return {
    kind: 'created',
    body: await readMigration(deps, userId, input.templateName, migrationId, { limit: 100 }),
  };
}

function encodeCursor(position: number): string {
  return Buffer.from(`p:${position}`).toString('base64url');
}

function decodeCursor(cursor: string): number {
  const match = /^p:(\d{1,9})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!match?.[1]) {
    throw new BadRequestError('invalid cursor', [
      { path: 'query.cursor', message: 'not a cursor this API gave out' },
    ]);
  }
  return Number(match[1]);
}

function outcomeView(run: MigrationRunRecord): MigrationRunOutcome {
  return {
    workflow_run_id: run.workflow_run_id,
    from_version_id: run.from_version_id,
    outcome: run.outcome,
    restart_at: run.restart_at,
    reason: run.reason,
    error_code: run.error_code,
    command_id: run.command_id,
  };
}

/** Counts by outcome, from the per-run records (the migration's own progress cannot drift). */
async function countRuns(models: Models, userId: string, migrationId: string, matched: number) {
  const groups = await models.migrationRuns.aggregate<{ _id: string | null; count: number }>([
    { $match: { user_id: userId, migration_id: migrationId } },
    { $group: { _id: '$outcome', count: { $sum: 1 } } },
  ]);
  const counts: MigrationCounts = {
    matched,
    pending: 0,
    switched: 0,
    restarted_at: 0,
    skipped: 0,
    failed: 0,
  };
  for (const group of groups) {
    const outcome = migrationOutcomeKindSchema.nullable().parse(group._id);
    counts[outcome ?? 'pending'] += group.count;
  }
  return counts;
}

export async function readMigration(
  deps: Pick<MigrationDependencies, 'models'>,
  userId: string,
  templateName: string,
  migrationId: string,
  query: MigrationQuery,
): Promise<MigrationView> {
  const after = query.cursor === undefined ? -1 : decodeCursor(query.cursor);
  const migration = await deps.models.migrations
    .findOne({ migration_id: migrationId, user_id: userId, workflow_template_name: templateName })
    .lean<MigrationRecord>();
  if (!migration) throw new NotFoundError('migration', migrationId);
  const [counts, page] = await Promise.all([
    countRuns(deps.models, userId, migrationId, migration.matched),
    deps.models.migrationRuns
      .find({ user_id: userId, migration_id: migrationId, position: { $gt: after } })
      .sort({ position: 1 })
      .limit(query.limit + 1)
      .lean<MigrationRunRecord[]>(),
  ]);
  const shown = page.slice(0, query.limit);
  const last = shown.at(-1);
  return {
    migration_id: migration.migration_id,
    workflow_template_name: migration.workflow_template_name,
    to_version_id: migration.to_version_id,
    policy: migration.policy,
    filter: migration.filter,
    reuse_answers: migration.reuse_answers === true,
    status: migration.status,
    counts,
    outcomes: shown.map(outcomeView),
    next_cursor: page.length > query.limit && last ? encodeCursor(last.position) : null,
    created_at: migration.created_at.toISOString(),
    updated_at: migration.updated_at.toISOString(),
    finished_at: migration.finished_at?.toISOString() ?? null,
  };
}
