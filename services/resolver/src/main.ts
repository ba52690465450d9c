import { createModuleCatalog } from '@stepwise/shared';
import { resolverEnvSchema, runWorkerService } from '@stepwise/shared/node';
import { createResolveHandler } from './resolve-submission.js';

await runWorkerService({
  service: 'resolver',
  envSchema: resolverEnvSchema,
  kind: 'resolve',
  concurrency: (config) => config.RESOLVER_CONCURRENCY,
  createHandler: ({ config, mongo, models }) =>
    createResolveHandler({
      mongo,
      models,
      catalog: createModuleCatalog(),
      inlineLimitBytes: config.MAX_INLINE_RESOLVED_BYTES,
      limits: {
        maxEntries: config.MAX_ZIP_ENTRIES,
        maxUncompressedBytes: config.MAX_UNCOMPRESSED_BYTES,
        maxCompressionRatio: config.MAX_COMPRESSION_RATIO,
      },
    }),
});
