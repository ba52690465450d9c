import type { Connection } from 'mongoose';
import {
  type MigrationJob,
  type MigrationRecord,
  type MigrationRunRecord,
  type RunCommandRecord,
} from '@stepwise/shared';
import {
  DuplicateRequestKeyError,
  MigrationPlanner,
  acceptRunCommand,
  findCommandByRequestKey,
  migrationCandidateProjection,
  plannedOutcome,
  type FairShare,
  type JobContext,
  type JobQueue,
  type MigrationCandidate,
  type Models,
  type PlannedOutcome,
} from '@stepwise/shared/node';

/**
 * The `migrations` queue's job (versions.md, "Batch migration"): takes the migration's runs in
 * order and moves each by the usual per-run semantics, a `switch_version` command like the one
 * `resume/confirm` sends. Each run's command carries a request key derived from the migration and
 * the run, so a job handed back after a crash finds the commands it already sent and sends none
 * twice; the runs it already has an outcome for are not looked at again.
 */

export interface MigrationJobDependencies {
  mongo: Connection;
  models: Models;
  runQueue: JobQueue<'runCommand'>;
  fairShare: FairShare;
  /** How many runs are moved at once. */
  batchSize: number;
  /** How often a sent command's record is read until it settles. */
  settlePollMs: number;
}

/** The key of the one command a migration sends a run: the same on every attempt of the job. */
export function migrationRequestKey(migrationId: string, runId: string): string {
  return `migration:${migrationId}:${runId}`;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function settledCommand(
  deps: MigrationJobDependencies,
  command: Pick<RunCommandRecord, 'workflow_run_id' | 'command_id'>,
): Promise<RunCommandRecord> {
  for (;;) {
    const record = await deps.models.runCommands
      .findOne({ workflow_run_id: command.workflow_run_id, command_id: command.command_id })
      .lean<RunCommandRecord>();
    if (record && record.status !== 'pending') return record;
    await sleep(deps.settlePollMs);
  }
}

/** The outcome a settled command stands for. */
function commandOutcome(command: RunCommandRecord): PlannedOutcome {
  if (command.status === 'applied') {
    const restartAt = command.payload?.['restart_at'];
    return typeof restartAt === 'string'
      ? { outcome: 'restarted_at', restart_at: restartAt, reason: null, error_code: null }
      : { outcome: 'switched', restart_at: null, reason: null, error_code: null };
  }
  return {
    outcome: 'failed',
    restart_at: null,
    reason: command.error?.message ?? 'the run refused the change',
    error_code: command.error?.code ?? 'CONFLICT',
  };
}

/** Sends the run its command (or finds the one sent before) and waits for its settlement. */
async function moveRun(
  deps: MigrationJobDependencies,
  migration: MigrationRecord,
  planner: MigrationPlanner,
  entry: MigrationRunRecord,
): Promise<{ outcome: PlannedOutcome; commandId: string | null }> {
  const requestKey = migrationRequestKey(migration.migration_id, entry.workflow_run_id);
  let command = await findCommandByRequestKey(deps.models, migration.user_id, requestKey);
  if (!command) {
    const run = await deps.models.runs
      .findOne({ workflow_run_id: entry.workflow_run_id, user_id: migration.user_id })
      .select(migrationCandidateProjection)
      .lean<MigrationCandidate>();
    if (!run) {
      return {
        outcome: {
          outcome: 'failed',
          restart_at: null,
          reason: 'the run no longer exists',
          error_code: 'NOT_FOUND',
        },
        commandId: null,
      };
    }
    const [decision] = await planner.decide([run]);
    if (!decision) throw new Error('a decision per run');
    if (decision.kind !== 'switch') return { outcome: plannedOutcome(decision), commandId: null };
    try {
      command = await acceptRunCommand(deps.models, {
        runId: run.workflow_run_id,
        userId: migration.user_id,
        type: 'switch_version',
        payload: {
          to_version_id: migration.to_version_id,
          ...(decision.restartAt === null ? {} : { restart_at: decision.restartAt }),
          ...(migration.reuse_answers ? { reuse_answers: true } : {}),
        },
        correlationId: migration.correlation_id,
        actor: migration.actor,
        idempotencyKey: requestKey,
      });
    } catch (error) {
      // An earlier attempt of this job sent it between our look-up and now.
      if (!(error instanceof DuplicateRequestKeyError)) throw error;
      command = error.existing;
    }
  }
  if (command.status === 'pending') {
    // Same job id as the command: a drain already queued for it is not queued twice. Its place in
    // the user's line is taken like any command's, so a migration waits its turn (fair share).
    await deps.runQueue.enqueue(
      {
        kind: 'drain',
        workflow_run_id: command.workflow_run_id,
        user_id: command.user_id,
        command_id: command.command_id,
        command_seq: command.seq,
      },
      {
        jobId: command.command_id,
        priority: await deps.fairShare.priorityFor(command.user_id),
      },
    );
  }
  const settled = await settledCommand(deps, command);
  return { outcome: commandOutcome(settled), commandId: settled.command_id };
}

export async function migrateRuns(
  deps: MigrationJobDependencies,
  job: MigrationJob,
  context: Pick<JobContext, 'reportProgress' | 'logger'>,
): Promise<{ migrated: number }> {
  const migration = await deps.models.migrations
    .findOne({ migration_id: job.migration_id, user_id: job.user_id })
    .lean<MigrationRecord>();
  if (!migration) throw new Error(`migration ${job.migration_id} not found`);
  if (migration.status === 'completed') return { migrated: 0 };
  const owned = { user_id: migration.user_id, migration_id: migration.migration_id };
  await deps.models.migrations.updateOne(
    { ...owned, status: 'queued' },
    { $set: { status: 'running', updated_at: new Date() } },
  );
  const planner = new MigrationPlanner(
    deps,
    migration.user_id,
    migration.to_version_id,
    migration.policy,
  );
  // The runs not reached yet, in the migration's order; a job handed back after a crash starts here.
  const pending = await deps.models.migrationRuns
    .find({ ...owned, outcome: null })
    .sort({ position: 1 })
    .lean<MigrationRunRecord[]>();
  let done = migration.matched - pending.length;
  let next = 0;
  const reportEvery = Math.max(1, deps.batchSize);
  // A pool rather than batches: one slow run does not hold up the others.
  const worker = async () => {
    while (next < pending.length) {
      const entry = pending[next++];
      if (!entry) return;
      const { outcome, commandId } = await moveRun(deps, migration, planner, entry);
      await deps.models.migrationRuns.updateOne(
        { ...owned, position: entry.position, outcome: null },
        { $set: { ...outcome, command_id: commandId, settled_at: new Date() } },
      );
      done += 1;
      if (done % reportEvery === 0 || done === migration.matched) {
        await deps.models.migrations.updateOne(owned, { $set: { updated_at: new Date() } });
        await context.reportProgress({ done, total: migration.matched });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(deps.batchSize, pending.length) }, worker));
  const migrated = pending.length;
  const now = new Date();
  await deps.models.migrations.updateOne(owned, {
    $set: { status: 'completed', updated_at: now, finished_at: now },
  });
  context.logger.info({ migration_id: migration.migration_id, migrated }, 'migration completed');
  return { migrated };
}
