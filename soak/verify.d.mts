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

export function verifyRuns(
  models: Models,
  acknowledgedAnswers: readonly AcknowledgedAnswer[],
): Promise<{
  violations: Violation[];
  checked: { runs: number; events: number; commands: number; answers: number };
}>;
