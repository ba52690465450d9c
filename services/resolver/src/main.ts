import { resolverEnvSchema, runWorkerService } from '@stepwise/shared/node';
import { resolveSubmission } from './resolve-submission.js';

await runWorkerService({
  service: 'resolver',
  envSchema: resolverEnvSchema,
  kind: 'resolve',
  concurrency: (config) => config.RESOLVER_CONCURRENCY,
  createHandler: () => resolveSubmission,
});
