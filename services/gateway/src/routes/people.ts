import type { RouteDefinition } from '../http/route-builder.js';
import type { GatewayDependencies } from '../app.js';

/** People's accounts: invitations, passwords, sessions behind a cookie (people.md). */
export function peopleRoutes(_deps: GatewayDependencies): RouteDefinition[] {
  return [];
}
