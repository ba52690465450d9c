import type { BulkWriter } from './bulk-writer.js';
import type { FixtureUser } from './multi-user-accounts.js';
import type { SeededRandom } from './random.js';
import { canonicalJson, sha256Hex, uuid7Hex } from './random.js';
import {
  originalWorkflow,
  unresolvedWorkflow,
  type OriginalWorkflow,
} from './workflow-definition.js';

/**
 * Multi-user definitions: user-scoped and global templates and their raw, unresolved and
 * resolved versions (research §2.4, §2.5).
 */

const dayMs = 86_400_000;

export interface RunnableVersion {
  workflow_version_id: string;
  version_type: 'raw' | 'resolved';
  requires: { capability: string; priority: number }[];
  workflow: OriginalWorkflow;
  created_at: Date;
}

export interface UserTemplate {
  user_id: string;
  workflow_template_id: string;
  workflow_template_name: string;
  /** Runnable versions (raw, or resolved children), never unresolved (§2.1). */
  versions: RunnableVersion[];
}

async function writeVersion(
  writer: BulkWriter,
  random: SeededRandom,
  templateId: string,
  content: Record<string, unknown>,
  fields: {
    version_type: string;
    source_type: string;
    parent: string | null;
    requires: { capability: string; priority: number }[];
    created_at: Date;
    id_ms: number;
  },
): Promise<string> {
  const id = `ver_${uuid7Hex(random, fields.id_ms)}`;
  await writer.add(
    'workflow_versions',
    {
      workflow_version_id: id,
      workflow_template_id: templateId,
      content_hash: `sha256:${sha256Hex(canonicalJson(content))}`,
      source_type: fields.source_type,
      version_type: fields.version_type,
      parent_workflow_version_id: fields.parent,
      requires: fields.requires,
      resolved_workflow: content,
      created_at: fields.created_at,
    },
    fields.created_at,
  );
  return id;
}

/**
 * Per user: an own template with two raw versions (ids in the opposite order of created_at) and
 * an unresolved version with two resolved children (§2.5). One global template (§2.4) with a
 * hidden per-user copy, holding copies of its versions, for each active user.
 */
export async function writeTemplates(
  writer: BulkWriter,
  random: SeededRandom,
  users: FixtureUser[],
  startMs: number,
): Promise<UserTemplate[]> {
  const templates: UserTemplate[] = [];
  for (const [u, user] of users.entries()) {
    const createdAt = new Date(startMs - (120 - u) * dayMs);
    // Newest version.py: tpl_ + uuid7 hex; older helper: tpl_ + uuid4 hex[:12] (§2.4).
    const templateId =
      u % 2 === 0 ? `tpl_${uuid7Hex(random, createdAt.getTime())}` : `tpl_${random.hex(12)}`;
    const base = {
      workflow_template_id: templateId,
      workflow_template_name: 'cuddle_crew',
      user_id: user.user_id,
      created_at: createdAt,
      updated_at: createdAt,
    };
    // The first user's document predates scope/visibility (get_or_create_template backfills them).
    await writer.add(
      'workflow_templates',
      u === 0 ? base : { ...base, scope: 'user', visibility: 'visible' },
      createdAt,
    );
    const versions: RunnableVersion[] = [];
    for (const [v, revision] of [1, 2].entries()) {
      const workflow = originalWorkflow('multi-user', revision);
      const versionCreated = new Date(createdAt.getTime() + (v + 1) * 5 * dayMs);
      const id = await writeVersion(
        writer,
        random,
        templateId,
        { ...workflow },
        {
          version_type: 'raw',
          source_type: v === 0 ? 'zip' : 'json',
          parent: null,
          requires: [],
          created_at: versionCreated,
          id_ms: createdAt.getTime() + (2 - v) * 3_600_000,
        },
      );
      versions.push({
        workflow_version_id: id,
        version_type: 'raw',
        requires: [],
        workflow,
        created_at: versionCreated,
      });
    }
    const unresolvedAt = new Date(createdAt.getTime() + 20 * dayMs);
    const unresolvedId = await writeVersion(writer, random, templateId, unresolvedWorkflow(3), {
      version_type: 'unresolved',
      source_type: 'zip',
      parent: null,
      requires: [],
      created_at: unresolvedAt,
      id_ms: unresolvedAt.getTime(),
    });
    for (const [c, requires] of [
      [{ capability: 'webui', priority: 2 }],
      [{ capability: 'tui', priority: 1 }],
    ].entries()) {
      const workflow = {
        ...originalWorkflow('multi-user', 3),
        description: `resolved for ${requires[0]?.capability ?? ''}`,
      };
      const childAt = new Date(unresolvedAt.getTime() + (c + 1) * 1000);
      const id = await writeVersion(
        writer,
        random,
        templateId,
        { ...workflow },
        {
          version_type: 'resolved',
          source_type: 'json',
          parent: unresolvedId,
          requires,
          created_at: childAt,
          id_ms: childAt.getTime(),
        },
      );
      versions.push({
        workflow_version_id: id,
        version_type: 'resolved',
        requires,
        workflow,
        created_at: childAt,
      });
    }
    templates.push({
      user_id: user.user_id,
      workflow_template_id: templateId,
      workflow_template_name: 'cuddle_crew',
      versions,
    });
  }

  const globalAt = new Date(startMs - 100 * dayMs);
  const globalId = `tpl_${uuid7Hex(random, globalAt.getTime())}`;
  await writer.add(
    'workflow_templates',
    {
      workflow_template_id: globalId,
      workflow_template_name: 'cuddle_crew_community',
      user_id: 'global',
      scope: 'global',
      visibility: 'public',
      created_at: globalAt,
      updated_at: globalAt,
    },
    globalAt,
  );
  const globalWorkflow = {
    ...originalWorkflow('multi-user', 5),
    workflow_id: 'cuddle_crew_community',
  };
  const globalVersionAt = new Date(globalAt.getTime() + dayMs);
  await writeVersion(
    writer,
    random,
    globalId,
    { ...globalWorkflow },
    {
      version_type: 'raw',
      source_type: 'json',
      parent: null,
      requires: [],
      created_at: globalVersionAt,
      id_ms: globalVersionAt.getTime(),
    },
  );
  for (const [u, user] of users.entries()) {
    if (!user.is_active) continue;
    const copyAt = new Date(globalAt.getTime() + (u + 2) * dayMs);
    const copyId = `tpl_${uuid7Hex(random, copyAt.getTime())}`;
    const name = `global_${globalId}_${user.user_id}`;
    await writer.add(
      'workflow_templates',
      {
        workflow_template_id: copyId,
        workflow_template_name: name,
        user_id: user.user_id,
        scope: 'user',
        visibility: 'hidden',
        derived_from: globalId,
        created_at: copyAt,
        updated_at: copyAt,
      },
      copyAt,
    );
    // sync_template_versions copies the global versions into the hidden copy (§2.4).
    const id = await writeVersion(
      writer,
      random,
      copyId,
      { ...globalWorkflow },
      {
        version_type: 'raw',
        source_type: 'json',
        parent: null,
        requires: [],
        created_at: copyAt,
        id_ms: copyAt.getTime(),
      },
    );
    templates.push({
      user_id: user.user_id,
      workflow_template_id: copyId,
      workflow_template_name: name,
      versions: [
        {
          workflow_version_id: id,
          version_type: 'raw',
          requires: [],
          workflow: globalWorkflow,
          created_at: copyAt,
        },
      ],
    });
  }
  return templates;
}
