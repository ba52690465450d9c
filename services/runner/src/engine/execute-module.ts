import type { WorkflowRunRecord } from '@stepwise/shared';
import {
  asFailure,
  moduleContext,
  type AdvanceDependencies,
  type ExecutionResult,
} from './advance.js';
import type { DecisionSession, ModuleExecution } from './decision.js';
import { ModuleFailure } from './module-failure.js';
import { resolveCredentials, scrubFailure } from './credentials.js';
import { scrubSecretValues } from './redaction.js';

/**
 * Runs the module a decision stopped at: an interactive module's request, or a module's work.
 * Never throws for the module's own failures (they come back as a result that becomes
 * `module_failed`); `lease` aborts the work when the drain loses its hold on the run.
 */
export async function executeModule(
  deps: AdvanceDependencies,
  run: WorkflowRunRecord,
  session: DecisionSession,
  execution: ModuleExecution,
  lease: AbortSignal,
): Promise<ExecutionResult> {
  const { planned, implementation, plan, attempt, inputs, idempotencyKey } = execution;
  const controller = new AbortController();
  const onLeaseLost = () => controller.abort(lease.reason);
  lease.addEventListener('abort', onLeaseLost, { once: true });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(
        new ModuleFailure(
          'MODULE_TIMEOUT',
          `module did not finish within ${deps.moduleTimeoutMs} ms`,
          true,
        ),
      );
    }, deps.moduleTimeoutMs);
  });
  // The credential values this attempt holds: scrubbed from whatever it returns or throws.
  let secretValues: string[] = [];
  try {
    const credentials = await resolveCredentials(deps.secrets, run, planned);
    secretValues = Object.values(credentials ?? {});
    const baseContext = moduleContext(
      deps,
      run,
      plan,
      session.snapshot,
      planned,
      attempt,
      idempotencyKey,
      controller.signal,
    );
    const context = credentials ? { ...baseContext, credentials } : baseContext;
    const work = implementation.interactive
      ? implementation.request(inputs, context)
      : implementation.job === true
        ? execution.job
          ? implementation.poll(inputs, context, execution.job)
          : implementation.submit(inputs, context)
        : implementation.execute(inputs, context);
    const value: unknown = await Promise.race([work, timeout]);
    return { ok: true, value: scrubSecretValues(value, secretValues) };
  } catch (error) {
    return { ok: false, failure: scrubFailure(asFailure(error), secretValues) };
  } finally {
    clearTimeout(timer);
    lease.removeEventListener('abort', onLeaseLost);
  }
}
