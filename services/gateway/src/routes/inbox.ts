import type { RouteDefinition } from '../http/route-builder.js';
import type { GatewayDependencies } from '../app.js';

/** The caller's inbox across runs: `GET /v1/me/interactions` and `GET /v1/me/stream` (people.md). */
export function inboxRoutes(_deps: GatewayDependencies): RouteDefinition[] {
  return [];
}
