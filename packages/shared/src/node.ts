// The Node-bound door: configuration, logging, MongoDB models and connections, BullMQ runtime.
export * from './config.js';
export * from './connections.js';
export * from './lifecycle.js';
export * from './logger.js';
export * from './models/index.js';
export * from './models/people.js';
export * from './queue-runtime.js';
export * from './worker-service.js';
export * from './hashing.js';
export * from './models/workflow-storage.js';
export * from './models/streamed-files.js';
export * from './run-inbox.js';
export * from './plugins.js';
export * from './fair-share.js';
export * from './versions/version-change-views.js';
export * from './versions/migration-planning.js';
export * from './outbound/destination-policy.js';
