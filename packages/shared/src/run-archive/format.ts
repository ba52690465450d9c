import { z } from 'zod';
import {
  artifactRecordSchema,
  branchRecordSchema,
  eventRecordSchema,
  runCommandRecordSchema,
  tokenUsageRecordSchema,
  workflowRunRecordSchema,
  workflowVersionRecordSchema,
} from '../records.js';

/**
 * The run archive (docs/run-export.md): one zip holding a run and everything needed to read it
 * back and go on with it elsewhere. Each document is JSON (collections as JSON Lines, one record a
 * line); dates are ISO strings and become `Date`s again on the named fields before the record
 * schemas parse them. The manifest names every other entry with its sha256.
 */

export const RUN_ARCHIVE_FORMAT = 'stepwise.run-archive';
export const RUN_ARCHIVE_FORMAT_VERSION = 1;

export const archiveEntryNames = {
  manifest: 'manifest.json',
  run: 'run.json',
  template: 'template.json',
  versions: 'versions.jsonl',
  branches: 'branches.jsonl',
  events: 'events.jsonl',
  commands: 'commands.jsonl',
  tokens: 'tokens.jsonl',
  artifacts: 'artifacts.jsonl',
} as const;

/** Artifact bytes live at `artifacts/<sha256>`, once per distinct content. */
export const ARTIFACT_FILE_PREFIX = 'artifacts/';
const sha256Pattern = /^[0-9a-f]{64}$/;

export function artifactEntryName(sha256: string): string {
  return `${ARTIFACT_FILE_PREFIX}${sha256}`;
}

/** The sha256 an artifact entry's name gives, or null for any other name. */
export function artifactEntrySha256(name: string): string | null {
  if (!name.startsWith(ARTIFACT_FILE_PREFIX)) return null;
  const hash = name.slice(ARTIFACT_FILE_PREFIX.length);
  return sha256Pattern.test(hash) ? hash : null;
}

const sha256Schema = z.string().regex(sha256Pattern, 'a sha256 in lower-case hex');

export const runArchiveManifestSchema = z.strictObject({
  format: z.literal(RUN_ARCHIVE_FORMAT),
  format_version: z.literal(RUN_ARCHIVE_FORMAT_VERSION),
  exported_at: z.iso.datetime(),
  source: z.strictObject({
    workflow_run_id: z.string(),
    user_id: z.string(),
    workflow_template_name: z.string(),
  }),
  counts: z.strictObject({
    versions: z.number().int().nonnegative(),
    branches: z.number().int().nonnegative(),
    events: z.number().int().nonnegative(),
    commands: z.number().int().nonnegative(),
    tokens: z.number().int().nonnegative(),
    artifacts: z.number().int().nonnegative(),
    artifact_files: z.number().int().nonnegative(),
  }),
  /** Every entry but the manifest, with the sha256 of its bytes. */
  entries: z.record(z.string(), sha256Schema),
});
export type RunArchiveManifest = z.infer<typeof runArchiveManifestSchema>;

/** The template as the archive carries it: its name and what describes it, not its id. */
export const archivedTemplateSchema = z.strictObject({
  workflow_template_name: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'not a template name'),
  display_name: z.string().nullable(),
  created_at: z.date(),
});
export type ArchivedTemplate = z.infer<typeof archivedTemplateSchema>;

/** A version always carries its resolved workflow inline in the archive, whatever its size. */
export const archivedVersionSchema = workflowVersionRecordSchema.extend({
  resolved_workflow: z.record(z.string(), z.unknown()),
  resolved_workflow_ref: z.null(),
  source_file_id: z.null(),
});
export type ArchivedVersion = z.infer<typeof archivedVersionSchema>;

/** Each document kind: its schema and the top-level fields that hold dates. */
export const archivedDocuments = {
  run: {
    schema: workflowRunRecordSchema,
    dates: ['created_at', 'updated_at', 'command_accepted_at', 'lease_expires_at', 'wake_at'],
  },
  template: { schema: archivedTemplateSchema, dates: ['created_at'] },
  versions: { schema: archivedVersionSchema, dates: ['created_at'] },
  branches: { schema: branchRecordSchema, dates: ['created_at'] },
  events: { schema: eventRecordSchema, dates: ['timestamp'] },
  commands: { schema: runCommandRecordSchema, dates: ['accepted_at', 'finished_at'] },
  tokens: { schema: tokenUsageRecordSchema, dates: ['created_at', 'completed_at'] },
  artifacts: { schema: artifactRecordSchema, dates: ['created_at'] },
} as const;
export type ArchivedDocumentKind = keyof typeof archivedDocuments;

/** A record as JSON: without MongoDB's `_id`, dates as ISO strings (JSON.stringify does that). */
export function toArchiveJson(record: object): string {
  const { _id: _ignored, ...rest } = record as Record<string, unknown>;
  return JSON.stringify(rest);
}

export function toJsonLines(records: readonly object[]): string {
  return records.map((record) => `${toArchiveJson(record)}\n`).join('');
}

/** A parsed JSON value with the named top-level fields turned back into dates. */
export function reviveDates(value: unknown, fields: readonly string[]): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  const copy: Record<string, unknown> = { ...value };
  for (const field of fields) {
    const text = copy[field];
    if (typeof text === 'string') copy[field] = new Date(text);
  }
  return copy;
}
