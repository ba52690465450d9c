import type { BranchSnapshot } from '../../records.js';
import type { EventType } from '../events.js';
import type { FoldEvent } from './fold-data.js';

/**
 * What one event of type K does to a branch. The handler gets the snapshot with `as_of_seq`
 * already moved to the event's seq, so a handler that changes nothing else returns it as is.
 */
export type EventHandler<K extends EventType> = (
  snapshot: BranchSnapshot,
  event: FoldEvent<K>,
) => BranchSnapshot;

/** One handler per event type: a type without one does not compile. */
export type EventHandlers = { [K in EventType]: EventHandler<K> };
