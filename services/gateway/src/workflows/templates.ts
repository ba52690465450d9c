import type { Connection } from 'mongoose';
import {
  NotFoundError,
  type WorkflowTemplateRecord,
  type WorkflowVersionRecord,
} from '@stepwise/shared';
import { readResolvedWorkflow, type Models } from '@stepwise/shared/node';
import { afterTimeCursor, decodeTimeCursor, encodeTimeCursor } from '../http/page-cursor.js';

interface VersionStats {
  _id: string;
  version_count: number;
  latest_version_id: string;
}

function templateView(template: WorkflowTemplateRecord, stats: VersionStats | undefined) {
  return {
    workflow_template_id: template.workflow_template_id,
    workflow_template_name: template.workflow_template_name,
    display_name: template.display_name,
    latest_version_id: stats?.latest_version_id ?? null,
    version_count: stats?.version_count ?? 0,
    created_at: template.created_at.toISOString(),
    updated_at: template.updated_at.toISOString(),
  };
}

function versionListView(version: WorkflowVersionRecord) {
  return {
    workflow_version_id: version.workflow_version_id,
    content_hash: version.content_hash,
    raw_sha256: version.raw_sha256,
    source_type: version.source_type,
    size: version.size,
    created_at: version.created_at.toISOString(),
  };
}

/**
 * Each template's version count and newest version: newest by creation time, since migrated ids
 * need not sort by it (legacy.md); the id breaks a tie within a millisecond.
 */
async function versionStats(
  models: Models,
  match: { user_id: string; workflow_template_id?: string },
): Promise<Map<string, VersionStats>> {
  const rows = await models.versions.aggregate<VersionStats>([
    { $match: match },
    { $sort: { created_at: -1, workflow_version_id: -1 } },
    {
      $group: {
        _id: '$workflow_template_id',
        version_count: { $sum: 1 },
        latest_version_id: { $first: '$workflow_version_id' },
      },
    },
  ]);
  return new Map(rows.map((row) => [row._id, row]));
}

export async function listTemplates(models: Models, userId: string) {
  const templates = await models.templates
    .find({ user_id: userId })
    .sort({ workflow_template_name: 1 })
    .lean();
  const stats = await versionStats(models, { user_id: userId });
  return {
    items: templates.map((template) =>
      templateView(template, stats.get(template.workflow_template_id)),
    ),
  };
}

export async function findTemplate(
  models: Models,
  userId: string,
  name: string,
): Promise<WorkflowTemplateRecord> {
  const template = await models.templates
    .findOne({ user_id: userId, workflow_template_name: name })
    .lean();
  if (!template) throw new NotFoundError('template', name);
  return template;
}

export async function getTemplate(
  models: Models,
  userId: string,
  name: string,
  page: { limit: number; cursor?: string | undefined },
) {
  const template = await findTemplate(models, userId, name);
  const stats = await versionStats(models, {
    user_id: userId,
    workflow_template_id: template.workflow_template_id,
  });
  const versions = await models.versions
    .find({
      user_id: userId,
      workflow_template_id: template.workflow_template_id,
      ...(page.cursor === undefined
        ? {}
        : afterTimeCursor(decodeTimeCursor(page.cursor, 'version'), 'workflow_version_id')),
    })
    .select({ resolved_workflow: 0 })
    .sort({ created_at: -1, workflow_version_id: -1 })
    .limit(page.limit + 1)
    .lean();
  const hasMore = versions.length > page.limit;
  const shown = versions.slice(0, page.limit);
  const last = shown.at(-1);
  return {
    ...templateView(template, stats.get(template.workflow_template_id)),
    versions: shown.map(versionListView),
    next_cursor:
      hasMore && last
        ? encodeTimeCursor({ createdAt: last.created_at, id: last.workflow_version_id })
        : null,
  };
}

export async function getVersion(
  mongo: Connection,
  models: Models,
  userId: string,
  versionId: string,
) {
  const version = await models.versions
    .findOne({ workflow_version_id: versionId, user_id: userId })
    .lean();
  if (!version) throw new NotFoundError('version', versionId);
  const template = await models.templates
    .findOne({ user_id: userId, workflow_template_id: version.workflow_template_id })
    .lean();
  if (!template) throw new NotFoundError('version', versionId);
  return {
    ...versionListView(version),
    workflow_template_id: template.workflow_template_id,
    workflow_template_name: template.workflow_template_name,
    resolved_workflow: await readResolvedWorkflow(mongo, version),
  };
}
