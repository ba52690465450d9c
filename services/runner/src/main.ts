import { runWorkerService, runnerEnvSchema } from '@stepwise/shared/node';
import { applyRunCommand } from './apply-run-command.js';

await runWorkerService({
  service: 'runner',
  envSchema: runnerEnvSchema,
  kind: 'runCommand',
  concurrency: (config) => config.RUNNER_CONCURRENCY,
  createHandler: () => applyRunCommand,
});
