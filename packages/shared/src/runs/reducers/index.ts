import type { EventHandlers } from './handler-types.js';
import { jobHandlers } from './job-handlers.js';
import { legacyHandlers } from './legacy-handlers.js';
import { moduleHandlers } from './module-handlers.js';
import { runHandlers } from './run-handlers.js';

export type { EventHandler, EventHandlers } from './handler-types.js';
export { toFoldEvent, type FoldData, type FoldEvent } from './fold-data.js';

/** Every event type's handler; `satisfies` makes a type missing from both halves a compile error. */
export const eventHandlers = {
  ...moduleHandlers,
  ...jobHandlers,
  ...runHandlers,
  ...legacyHandlers,
} satisfies EventHandlers;
