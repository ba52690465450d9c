import { createModuleCatalog } from '@stepwise/shared';
import {
  declarationsOf,
  loadPluginModules,
  resolverEnvSchema,
  runWorkerService,
} from '@stepwise/shared/node';
import { createResolveHandler } from './resolve-submission.js';

await runWorkerService({
  service: 'resolver',
  envSchema: resolverEnvSchema,
  kind: 'resolve',
  concurrency: (config) => config.RESOLVER_CONCURRENCY,
  setup: async ({ config, mongo, models }) => {
    // The resolver validates workflows against every module a runner can run, plugins included.
    const plugins = await loadPluginModules(config.RUNNER_PLUGINS);
    return {
      handler: createResolveHandler({
        mongo,
        models,
        catalog: createModuleCatalog(declarationsOf(plugins)),
        inlineLimitBytes: config.MAX_INLINE_RESOLVED_BYTES,
        limits: {
          maxEntries: config.MAX_ZIP_ENTRIES,
          maxUncompressedBytes: config.MAX_UNCOMPRESSED_BYTES,
          maxCompressionRatio: config.MAX_COMPRESSION_RATIO,
        },
      }),
    };
  },
});
