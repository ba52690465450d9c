import type {
  BranchSnapshot,
  JobModule,
  JobReport,
  PlannedModule,
  StepwiseModule,
  WorkflowRunRecord,
} from '@stepwise/shared';
import type { DecisionSession, ModuleExecution } from './decision.js';
import { ModuleFailure } from './module-failure.js';

/**
 * Outside jobs (`api.job`, media.md): a module submits a job once per attempt, then the engine
 * checks on it each time a durable timer fires. Nothing waits in a process: between checks the
 * run holds no lease, and everything a check needs (job id, submission time, deadline, next check)
 * is in the log or, for a check that found nothing new, in the run's `wake_at` (effects.md, rule 8).
 */

export function isJobModule(module: StepwiseModule): module is JobModule {
  return !module.interactive && module.job === true;
}

/**
 * When the job the branch waits on is next to be checked: its recorded next poll, a later time a
 * check that found it unchanged set (`wake_at`, valid while the log has not moved since), and a
 * time this decision has already set. Null when the branch waits on no job.
 */
export function jobCheckDue(
  snapshot: BranchSnapshot,
  run: Pick<WorkflowRunRecord, 'last_seq' | 'wake_at' | 'wake_seq'>,
  decided: Date | null = null,
): Date | null {
  if (snapshot.cursor?.phase !== 'job_wait') return null;
  const times = [snapshot.retry_at ? new Date(snapshot.retry_at) : new Date(0)];
  if (run.wake_at && run.wake_seq === run.last_seq) times.push(new Date(run.wake_at));
  if (decided) times.push(decided);
  return new Date(Math.max(...times.map((time) => time.getTime())));
}

/** The job a module at `planned` waits on, if the branch's cursor says it is polling it. */
export function jobBeingPolled(snapshot: BranchSnapshot, planned: PlannedModule) {
  const cursor = snapshot.cursor;
  return cursor?.phase === 'job_wait' &&
    cursor.step_id === planned.step.step_id &&
    cursor.module_name === planned.module.name &&
    snapshot.job
    ? snapshot.job
    : null;
}

/** A job past its deadline fails the attempt without another call (JOB_TIMEOUT). */
export function jobTimedOut(snapshot: BranchSnapshot, now: Date): ModuleFailure | null {
  const job = snapshot.job;
  if (!job || new Date(job.deadline_at) > now) return null;
  return new ModuleFailure(
    'JOB_TIMEOUT',
    `job ${job.job_id} did not finish by ${job.deadline_at} (last status: ${job.status ?? 'none'})`,
    true,
  );
}

/**
 * Turns one report on the job into events: the submission (`job_submitted`, with the first
 * check's time and the deadline), a change of status (`job_polled`; an unchanged one records
 * nothing but still sets the next check), or the end (`job_completed` / `job_failed`, the
 * module's own end then follows). Returns the outputs to complete the module with, or a failure.
 */
export function recordJobReport(
  session: DecisionSession,
  execution: ModuleExecution,
  implementation: JobModule,
  report: JobReport,
  now: Date,
): { outputs: Record<string, unknown> } | { failure: ModuleFailure } | null {
  const { planned, attempt, inputs, idempotencyKey, job } = execution;
  const position = { step_id: planned.step.step_id, module_name: planned.module.name };
  const schedule = implementation.schedule(inputs);
  switch (report.state) {
    case 'running': {
      if (job === null) {
        const pollAt = new Date(now.getTime() + schedule.nextPollDelayMs(0));
        session.emit('job_submitted', position, {
          job_id: report.job_id,
          status: report.status,
          attempt,
          idempotency_key: idempotencyKey,
          submitted_at: now.toISOString(),
          poll_at: pollAt.toISOString(),
          deadline_at: new Date(now.getTime() + schedule.timeoutMs).toISOString(),
        });
        session.wakeAt = pollAt;
        return null;
      }
      const since = now.getTime() - new Date(job.submitted_at).getTime();
      const deadline = new Date(session.snapshot.job?.deadline_at ?? now.toISOString());
      // The last check is at the deadline, so a timeout is noticed on time.
      const pollAt = new Date(
        Math.min(now.getTime() + schedule.nextPollDelayMs(since), deadline.getTime()),
      );
      if (report.status !== job.status)
        session.emit('job_polled', position, {
          job_id: report.job_id,
          status: report.status,
          poll_at: pollAt.toISOString(),
        });
      session.wakeAt = pollAt;
      return null;
    }
    case 'succeeded':
      session.emit('job_completed', position, {
        job_id: report.job_id,
        status: report.status,
        artifact_ids: report.artifact_ids,
      });
      return { outputs: report.outputs };
    case 'failed':
      session.emit('job_failed', position, {
        job_id: report.job_id,
        status: report.status,
        error: report.error,
      });
      // The provider said no: another attempt (if the module allows retries) submits anew.
      return { failure: new ModuleFailure(report.error.code, report.error.message, true) };
  }
}

/** A check or a download that threw after the job was submitted also closes the job. */
export function recordJobError(
  session: DecisionSession,
  execution: ModuleExecution,
  failure: ModuleFailure,
): void {
  const job = execution.job;
  if (!job) return;
  const { planned } = execution;
  session.emit(
    'job_failed',
    { step_id: planned.step.step_id, module_name: planned.module.name },
    {
      job_id: job.job_id,
      status: job.status,
      error: { code: failure.code, message: failure.message },
    },
  );
}
