import { translateOriginalWorkflow, type OriginalWorkflowTranslation } from '@stepwise/shared';
import { contentHashOfJson } from '@stepwise/shared/node';
import type { mongo } from 'mongoose';
import { derivedObjectId } from '../deterministic.js';
import type { OriginalTemplate, OriginalVersion } from './source-records.js';
import { insertOnce } from './target-writes.js';
import { dateOf } from './dates.js';

/**
 * Templates and versions (docs/migration-original.md, "Workflows"). A version keeps its id and
 * creation time; its workflow is translated into Stepwise's format with the importer, keeping the
 * modules that have no equivalent under their original ids, so every step and module an in-flight
 * run stands at still exists by name (the runner fails such a module with a clear error when it
 * gets there). The original document is kept beside it, untouched.
 */

/** The original's marker for templates every user sees (research §2.4). */
const GLOBAL_USER_ID = 'global';

export interface CatalogReport {
  templates: number;
  versions: number;
  /** Versions whose workflow has modules (or settings) with no equivalent, by path. */
  untranslated: { workflow_version_id: string; paths: string[] }[];
  /** Global templates: owned here by the user named in `owner`. */
  global_templates: { workflow_template_id: string; owner: string }[];
  /** Templates whose owner is not a migrated user: not migrated. */
  templates_without_owner: string[];
}

export interface MigratedCatalog {
  report: CatalogReport;
  templates: ReadonlyMap<string, { userId: string; name: string }>;
  /** A template's versions, oldest first (by creation time, never by id). */
  versionsByTemplate: ReadonlyMap<string, readonly { id: string; created: number }[]>;
  versionIds: ReadonlySet<string>;
  /** Per version, the modules its translation names otherwise than the original did. */
  moves: ReadonlyMap<string, OriginalWorkflowTranslation['moved']>;
}

const EPOCH = new Date(0);

export async function migrateCatalog(
  source: mongo.Db,
  target: mongo.Db,
  owners: {
    defaultUserId: string | null;
    userIds: ReadonlySet<string>;
    globalOwner: string | null;
  },
): Promise<MigratedCatalog> {
  const report: CatalogReport = {
    templates: 0,
    versions: 0,
    untranslated: [],
    global_templates: [],
    templates_without_owner: [],
  };
  const originals = (await source
    .collection('workflow_templates')
    .find()
    .sort({ workflow_template_id: 1 })
    .toArray()) as unknown as OriginalTemplate[];
  const templates = new Map<string, { userId: string; name: string }>();
  const templateDocuments = [];
  for (const template of originals) {
    let owner = owners.defaultUserId ?? template.user_id ?? null;
    if (owners.defaultUserId === null && template.user_id === GLOBAL_USER_ID) {
      owner = owners.globalOwner;
      if (owner)
        report.global_templates.push({
          workflow_template_id: template.workflow_template_id,
          owner,
        });
    }
    if (!owner || (owners.defaultUserId === null && !owners.userIds.has(owner))) {
      report.templates_without_owner.push(template.workflow_template_id);
      continue;
    }
    templates.set(template.workflow_template_id, {
      userId: owner,
      name: template.workflow_template_name,
    });
    const created = dateOf(template.created_at) ?? EPOCH;
    templateDocuments.push({
      _id: derivedObjectId('original-template', template.workflow_template_id),
      workflow_template_id: template.workflow_template_id,
      user_id: owner,
      workflow_template_name: template.workflow_template_name,
      display_name: null,
      created_at: created,
      updated_at: dateOf(template.updated_at) ?? created,
    });
  }
  await insertOnce(target.collection('workflow_templates'), templateDocuments);
  report.templates = templateDocuments.length;

  const versionsByTemplate = new Map<string, { id: string; created: number }[]>();
  const versionIds = new Set<string>();
  const moves = new Map<string, OriginalWorkflowTranslation['moved']>();
  const cursor = source
    .collection('workflow_versions')
    .find()
    .sort({ workflow_version_id: 1 })
    .batchSize(200);
  let batch: mongo.Document[] = [];
  for await (const document of cursor) {
    const version = document as unknown as OriginalVersion;
    const template = templates.get(version.workflow_template_id);
    if (!template) continue;
    const original = version.resolved_workflow ?? {};
    const translation = translateOriginalWorkflow(original, { keepUntranslated: true });
    if (translation.untranslated.length > 0)
      report.untranslated.push({
        workflow_version_id: version.workflow_version_id,
        paths: translation.untranslated.map((item) => item.path),
      });
    const created = dateOf(version.created_at) ?? EPOCH;
    const list = versionsByTemplate.get(version.workflow_template_id) ?? [];
    list.push({ id: version.workflow_version_id, created: created.getTime() });
    versionsByTemplate.set(version.workflow_template_id, list);
    versionIds.add(version.workflow_version_id);
    if (translation.moved.length > 0) moves.set(version.workflow_version_id, translation.moved);
    batch.push({
      _id: derivedObjectId('original-version', version.workflow_version_id),
      workflow_version_id: version.workflow_version_id,
      workflow_template_id: version.workflow_template_id,
      user_id: template.userId,
      // The original's own hash (unique per template there, so here too).
      content_hash: version.content_hash ?? contentHashOfJson(original),
      raw_sha256: '',
      source_type: 'json',
      resolved_workflow: translation.workflow,
      resolved_workflow_ref: null,
      size: Buffer.byteLength(JSON.stringify(translation.workflow)),
      source_file_id: null,
      created_at: created,
      original: {
        resolved_workflow: original,
        version_type: version.version_type ?? null,
        parent_workflow_version_id: version.parent_workflow_version_id ?? null,
        requires: version.requires ?? [],
        source_type: version.source_type ?? null,
        untranslated: translation.untranslated,
      },
    });
    if (batch.length >= 200) {
      await insertOnce(target.collection('workflow_versions'), batch);
      batch = [];
    }
  }
  await insertOnce(target.collection('workflow_versions'), batch);
  report.versions = versionIds.size;
  for (const list of versionsByTemplate.values())
    list.sort((a, b) => a.created - b.created || (a.id < b.id ? -1 : 1));
  return { report, templates, versionsByTemplate, versionIds, moves };
}

/**
 * The run's version: its recorded one, else its template's newest created at or before the run,
 * else the template's oldest (a single-user run may not record one).
 */
export function versionForRun(
  catalog: MigratedCatalog,
  templateId: string,
  recorded: string | null | undefined,
  runCreated: Date | null | undefined,
): string | null {
  if (recorded && catalog.versionIds.has(recorded)) return recorded;
  const versions = catalog.versionsByTemplate.get(templateId) ?? [];
  const created = runCreated?.getTime() ?? Number.POSITIVE_INFINITY;
  const before = versions.filter((version) => version.created <= created);
  return (before.at(-1) ?? versions[0])?.id ?? null;
}
