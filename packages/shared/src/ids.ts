import { v7 as uuidv7 } from 'uuid';
import { z } from 'zod';

/**
 * Every identifier Stepwise mints, by kind. Versions and events use UUIDv7 so that their ids sort
 * by creation time (useful for cursors and for reading a log by eye); the rest carry 96 random bits.
 */
export const idKinds = {
  user: { prefix: 'usr', timeOrdered: false },
  accessKey: { prefix: 'key', timeOrdered: false },
  template: { prefix: 'tpl', timeOrdered: false },
  version: { prefix: 'ver', timeOrdered: true },
  run: { prefix: 'run', timeOrdered: false },
  branch: { prefix: 'br', timeOrdered: false },
  event: { prefix: 'evt', timeOrdered: true },
  artifact: { prefix: 'art', timeOrdered: false },
  correlation: { prefix: 'corr', timeOrdered: false },
  command: { prefix: 'cmd', timeOrdered: true },
  job: { prefix: 'job', timeOrdered: true },
  interaction: { prefix: 'int', timeOrdered: false },
  invitation: { prefix: 'inv', timeOrdered: false },
  session: { prefix: 'ses', timeOrdered: false },
  migration: { prefix: 'mig', timeOrdered: true },
  webhook: { prefix: 'whk', timeOrdered: false },
  /** A webhook delivery: its id is the `webhook-id` header, the same on every attempt. */
  delivery: { prefix: 'msg', timeOrdered: true },
} as const;

export type IdKind = keyof typeof idKinds;

const RANDOM_HEX_LENGTH = 24;
const UUID_PATTERN = '[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}';
const RANDOM_PATTERN = `[0-9a-f]{${RANDOM_HEX_LENGTH}}`;

function randomHex(length: number): string {
  const bytes = new Uint8Array(length / 2);
  globalThis.crypto.getRandomValues(bytes);
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
}

export function newId(kind: IdKind): string {
  const { prefix, timeOrdered } = idKinds[kind];
  return `${prefix}_${timeOrdered ? uuidv7() : randomHex(RANDOM_HEX_LENGTH)}`;
}

/**
 * Runs migrated from the single-user schema keep their `wf_` + 12 hex ids, because clients hold
 * them (see docs/architecture.md, "Identifiers").
 */
const legacyRunPattern = 'wf_[0-9a-f]{12}';

export function idPattern(kind: IdKind): RegExp {
  const { prefix, timeOrdered } = idKinds[kind];
  const body = `${prefix}_${timeOrdered ? UUID_PATTERN : RANDOM_PATTERN}`;
  return new RegExp(kind === 'run' ? `^(?:${body}|${legacyRunPattern})$` : `^${body}$`);
}

export function idSchema(kind: IdKind) {
  return z.string().regex(idPattern(kind), `must be a ${idKinds[kind].prefix}_ id`);
}
