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
  /** A deletion of a run, a template or a user (docs/deletion-and-retention.md). */
  deletion: { prefix: 'del', timeOrdered: true },
  /** What one pass of the retention job did for one user. */
  retentionReport: { prefix: 'rtn', timeOrdered: true },
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

const UUID_HEX = '[0-9a-f]{32}';
const SHORT_HEX = '[0-9a-f]{12}';

/**
 * The original system's id forms, which what is migrated from it keeps, because clients and stored
 * references hold them (legacy.md; docs/research/original-system.md, "Id formats"): a prefix and a
 * UUIDv7 as 32 hex digits without hyphens, or the first 12 hex digits of a UUIDv4. Every route
 * accepts them wherever it accepts ids of the same kind. None can be mistaken for an id Stepwise
 * mints: those have hyphens (time-ordered) or 24 hex digits (random).
 */
export const legacyIdForms: Partial<Record<IdKind, readonly string[]>> = {
  run: [`wf_${SHORT_HEX}`, `wf_sub_${UUID_HEX}`],
  event: [`evt_${UUID_HEX}`],
  branch: [`br_${UUID_HEX}`],
  version: [`ver_${UUID_HEX}`],
  template: [`tpl_${UUID_HEX}`, `tpl_${SHORT_HEX}`],
  user: [`usr_${SHORT_HEX}`],
  accessKey: [`key_${SHORT_HEX}`],
  // Stored files (`wff_`) and generated media (`gc_`, 32 or, from its worker, 24 hex digits)
  // become artifacts under their own ids.
  artifact: [`wff_${UUID_HEX}`, `gc_${UUID_HEX}`, 'gc_[0-9a-f]{24}'],
  // A question's id names the kind of module that asked it.
  interaction: [`(?:select|text_input|media|file_download)_${UUID_HEX}`],
};

export function idPattern(kind: IdKind): RegExp {
  const { prefix, timeOrdered } = idKinds[kind];
  const forms = [`${prefix}_${timeOrdered ? UUID_PATTERN : RANDOM_PATTERN}`];
  forms.push(...(legacyIdForms[kind] ?? []));
  return new RegExp(`^(?:${forms.join('|')})$`);
}

export function idSchema(kind: IdKind) {
  return z.string().regex(idPattern(kind), `must be a ${idKinds[kind].prefix}_ id`);
}
