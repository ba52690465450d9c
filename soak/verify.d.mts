// Types for the soak verifier (plain JavaScript run by node), for the test that checks it.
import type { Models } from '@stepwise/shared/node';

export interface AcknowledgedAnswer {
  run_id: string;
  branch_id: string;
  interaction_id: string;
}

export interface Violation {
  run: string;
  what: string;
}

export function waitForQuiet(
  models: Models,
  timeoutMs: number,
): Promise<{ running: number; pending: number }>;

/** A provider call as the fake provider (test/support/fake-provider.mjs) records it. */
export interface ProviderCall {
  kind: 'chat' | 'render';
  marker: string | null;
  idempotencyKey: string | null;
}

export interface EffectsOptions {
  /** Every call the fake provider received. */
  calls: readonly ProviderCall[];
  /** The runs to check (default: every run in the database). */
  runIds?: readonly string[];
  /** The marker a run's calls carry (default: its project name). */
  markerOf?: (run: { workflow_run_id: string; project_name: string }) => string;
  /** Processes were killed: an interrupted attempt may not have reached the provider. */
  crashes?: boolean;
  /** Also check that no run is running and no command pending (default true). */
  settled?: boolean;
}

export interface AttemptCounts {
  started: number;
  completed: number;
  /** Failures after the request left (not bad inputs or a refused destination). */
  failed: number;
  interrupted: number;
}

export interface EffectsRow {
  run: string;
  marker: string;
  status: string;
  llm_calls: number;
  llm: AttemptCounts;
  fetch_calls: number;
  fetch: AttemptCounts;
  tokens: number;
  token_statuses: Record<string, number>;
  artifacts: number;
  artifact_mismatches: number;
}

export interface EffectsTotals {
  runs: number;
  llm_calls: number;
  llm_completed: number;
  llm_failed: number;
  llm_interrupted: number;
  fetch_calls: number;
  tokens: number;
  artifacts: number;
  artifact_mismatches: number;
}

export function verifyEffects(
  models: Models,
  options: EffectsOptions,
): Promise<{ violations: Violation[]; rows: EffectsRow[]; totals: EffectsTotals }>;

export function verifyRuns(
  models: Models,
  acknowledgedAnswers: readonly AcknowledgedAnswer[],
  effects?: Pick<EffectsOptions, 'calls' | 'runIds' | 'markerOf'>,
): Promise<{
  violations: Violation[];
  checked: {
    runs: number;
    events: number;
    commands: number;
    answers: number;
    effects?: EffectsTotals;
  };
}>;
