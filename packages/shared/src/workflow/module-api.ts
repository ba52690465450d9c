import type { z } from 'zod';
import type { ErrorDetail } from '../errors.js';
import type { ModuleDeclaration } from './module-declarations.js';

/**
 * The interface every module implements, built-in or plugin. A plugin is an ES module whose
 * default export is `{ modules: StepwiseModule[] }`, listed in RUNNER_PLUGINS; the resolver reads
 * its declarations, the runner runs it.
 */

export interface ModuleRunContext {
  run: {
    workflow_run_id: string;
    workflow_template_id: string;
    user_id: string;
    branch_id: string;
    /** The run's last committed seq when this attempt was decided (stable across a redelivery). */
    base_seq: number;
    project_name: string;
    step_id: string;
    module_name: string;
    attempt: number;
    /**
     * The attempt's idempotency key (`<run id>:<seq of its module_started>`), unique for ever:
     * send it to providers that honour keys, and key any shared write by it, so that an attempt
     * run again after a crash is charged and counted once.
     */
    idempotency_key: string;
    /** Feedback a person gave when asking to retry this module, or null. */
    feedback: string | null;
  };
  config: Record<string, unknown>;
  /** Renders a template against the run's context (plus `extra`), as inputs are rendered. */
  render: (template: string, extra?: Record<string, unknown>) => Promise<unknown>;
  signal: AbortSignal;
  /**
   * The values of the secrets the module's `credentials` name, by slot (`api_key` → the key),
   * read from the run owner's secrets for this call; absent when it names none. Never put them in
   * an output or an error message: the runner scrubs them, but a module should not rely on that.
   */
  credentials?: Readonly<Record<string, string>>;
}

export type ResponseCheck =
  { ok: true; outputs: Record<string, unknown> } | { ok: false; errors: ErrorDetail[] };

interface ModuleBase extends ModuleDeclaration {
  readonly id: string;
  /** Validates what the module returns; a mismatch fails the module. */
  readonly outputs?: z.ZodType;
}

export interface ExecutableModule extends ModuleBase {
  readonly interactive: false;
  readonly job?: false;
  execute(
    inputs: Record<string, unknown>,
    context: ModuleRunContext,
  ): Promise<Record<string, unknown>>;
}

export interface InteractiveModule extends ModuleBase {
  readonly interactive: true;
  /** What the person sees; recorded in `interaction_requested`. */
  request(inputs: Record<string, unknown>, context: ModuleRunContext): Promise<unknown>;
  /** Checks a person's response against the request; valid responses become the outputs. */
  respond(request: unknown, response: unknown, context: ModuleRunContext): Promise<ResponseCheck>;
}

/** The outside job an attempt waits on, as the log recorded it at `job_submitted`. */
export interface JobInProgress {
  job_id: string;
  /** The status last recorded (null when the provider gave none yet). */
  status: string | null;
  /** ISO time of the submission: polls back off from it. */
  submitted_at: string;
}

/**
 * Where an outside job stands after one call: still running (the engine records it and schedules
 * the next check), done with the module's outputs, or failed with the provider's message.
 */
export type JobReport =
  | { state: 'running'; job_id: string; status: string | null }
  | {
      state: 'succeeded';
      job_id: string | null;
      status: string | null;
      outputs: Record<string, unknown>;
      /** The artifacts the outputs name (recorded in `job_completed`). */
      artifact_ids: string[];
    }
  | {
      state: 'failed';
      job_id: string | null;
      status: string | null;
      error: { code: string; message: string };
    };

/**
 * A module that waits on an outside job without holding anything (effects.md, rule 8): the engine
 * calls `submit` once per attempt (again only if the attempt was interrupted before its
 * `job_submitted` was committed, with the same key), then `poll` each time a durable timer fires,
 * until a report is no longer `running` or the deadline passes.
 */
export interface JobModule extends ModuleBase {
  readonly interactive: false;
  readonly job: true;
  submit(inputs: Record<string, unknown>, context: ModuleRunContext): Promise<JobReport>;
  poll(
    inputs: Record<string, unknown>,
    context: ModuleRunContext,
    job: JobInProgress,
  ): Promise<JobReport>;
  /** When to check a running job next, and when to give up on it (ms). */
  schedule(inputs: Record<string, unknown>): {
    nextPollDelayMs: (sinceSubmissionMs: number) => number;
    timeoutMs: number;
  };
}

export type StepwiseModule = ExecutableModule | JobModule | InteractiveModule;

export interface StepwisePlugin {
  modules: StepwiseModule[];
}
