// The platform-neutral door: schemas, ids, errors and queue contracts. Nothing here opens a
// connection or reads the environment; see `./node.ts` for that.
export * from './accounts.js';
export * from './people-api.js';
export * from './errors.js';
export * from './ids.js';
export * from './queues.js';
export * from './records.js';
export * from './workflow/definition.js';
export * from './workflow/module-declarations.js';
export * from './workflow-api.js';
export * from './runs/events.js';
export * from './runs/plan.js';
export * from './runs/reducer.js';
export * from './run-api.js';
export * from './inbox-api.js';
export * from './workflow/module-api.js';
export * from './runs/version-diff.js';
export * from './canonical-json.js';
export * from './metrics-keys.js';
export * from './runs/event-data.js';
export * from './runs/commands.js';
export * from './storable-keys.js';
export * from './history-api.js';
export * from './workflow/interaction-answers.js';
export * from './workflow/interaction-requests.js';
export * from './query-params.js';
export * from './schema-docs.js';
