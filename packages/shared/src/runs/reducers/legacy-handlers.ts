import type { EventHandlers } from './handler-types.js';

/**
 * An original-system event kept verbatim moves nothing but the state its own fold took from it:
 * the original folded a sub-action's `_state_mapped` into the state as it did a module's
 * (docs/research/original-system.md §5.2), and the migration carries that as `state_changes`.
 */
export const legacyHandlers: Pick<EventHandlers, 'legacy_event'> = {
  legacy_event: (snapshot, event) => {
    const changes = event.data.state_changes;
    return changes ? { ...snapshot, state: { ...snapshot.state, ...changes } } : snapshot;
  },
};
