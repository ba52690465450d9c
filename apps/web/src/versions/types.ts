import type { components, paths } from '@stepwise/client';

/** The shapes the Versions page reads, taken from the gateway's contract. */

export type Run = components['schemas']['Run'];

/**
 * What moving a run onto another version changes (`GET /v1/runs/{id}/version-changes`): the
 * changes with their text, placed against the run's position, and the choices offered.
 */
export type VersionChangeView = components['schemas']['VersionChangeView'];
export type ResumeChoice = VersionChangeView['options'][number];
type Changes = VersionChangeView['changes'];
export type StepChange = Changes['steps'][number];
export type ModuleChange = Changes['modules'][number];
export type ChangeKind = ModuleChange['change'];
export type ChangeRelation = ModuleChange['relation'];

/** A template with a page of its versions, newest first (`GET /v1/templates/{name}`). */
export type TemplateDetail =
  paths['/v1/templates/{name}']['get']['responses'][200]['content']['application/json'];
export type VersionListItem = TemplateDetail['versions'][number];
