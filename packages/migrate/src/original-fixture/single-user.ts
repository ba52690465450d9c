import type { BulkWriter } from './bulk-writer.js';
import { OptionUsage, countEvent, eventDocument, writeConfig } from './common-docs.js';
import { planFor } from './plans.js';
import { SeededRandom, canonicalJson, sha256Hex, uuid7Hex } from './random.js';
import { RunSimulator } from './simulator.js';
import type { SimulatedRun } from './simulator-types.js';
import { originalWorkflow, type OriginalWorkflow } from './workflow-definition.js';
import type { GenerationResult } from './multi-user.js';

/**
 * The single-user generation (research §1.1): `workflows` keyed by workflow_id, old-format
 * branches, events keyed by workflow_id without workflow_version_id, flat legacy tokens, global
 * templates, versions without version_type, keyword_history. No users, no stored files or media.
 */

interface SingleVersion {
  workflow_version_id: string;
  workflow_template_id: string;
  workflow: OriginalWorkflow;
  created_at: Date;
}

const dayMs = 86_400_000;

export async function writeSingleUser(
  writer: BulkWriter,
  seed: string,
  runs: number,
  startMs: number,
): Promise<GenerationResult> {
  const random = new SeededRandom(seed, 'single-user', 'shared');
  const versions: SingleVersion[] = [];
  const templates = [
    { name: 'cuddle_crew', revisions: [1, 2, 3] },
    { name: 'cuddle_crew_lite', revisions: [4] },
  ];
  for (const [t, template] of templates.entries()) {
    // §1.1/§9: tpl_ + uuid4 hex[:12] in the older helper.
    const templateId = `tpl_${random.hex(12)}`;
    const templateCreated = new Date(startMs - (60 - t) * dayMs);
    await writer.add(
      'workflow_templates',
      {
        workflow_template_id: templateId,
        workflow_template_name: template.name,
        created_at: templateCreated,
      },
      templateCreated,
    );
    const count = template.revisions.length;
    for (const [v, revision] of template.revisions.entries()) {
      const workflow = { ...originalWorkflow('single-user', revision), workflow_id: template.name };
      const createdAt = new Date(templateCreated.getTime() + (v + 1) * 7 * dayMs);
      // The id's time runs the other way from created_at, so "newest" must come from created_at
      // (spec legacy.md: never from id order).
      const idMs = templateCreated.getTime() + (count - v) * 3_600_000;
      const version: SingleVersion = {
        workflow_version_id: `ver_${uuid7Hex(random, idMs)}`,
        workflow_template_id: templateId,
        workflow,
        created_at: createdAt,
      };
      versions.push(version);
      const sourceType = v % 2 === 0 ? 'zip' : 'json';
      await writer.add(
        'workflow_versions',
        {
          workflow_version_id: version.workflow_version_id,
          workflow_template_id: templateId,
          content_hash: `sha256:${sha256Hex(canonicalJson(workflow))}`,
          source_type: sourceType,
          resolved_workflow: workflow,
          created_at: createdAt,
        },
        createdAt,
      );
    }
  }

  const optionUsage = new OptionUsage();
  const keywords = new Map<
    string,
    {
      workflow_template_id: string;
      keyword: string;
      category: string;
      source: string;
      total_weight: number;
      last_used: Date;
    }
  >();
  const eventTypeCounts: Record<string, number> = {};
  const waitingRunIds: string[] = [];
  const usedIds = new Set<string>();
  let events = 0;
  let tokens = 0;

  for (let index = 0; index < runs; index++) {
    const runRandom = new SeededRandom(seed, 'single-user', 'run', String(index));
    let runId = `wf_${runRandom.hex(12)}`;
    while (usedIds.has(runId)) runId = `wf_${runRandom.hex(12)}`;
    usedIds.add(runId);
    const version = runRandom.pick(versions);
    const projectPath = `/home/user/videos/${runRandom.pick(['cats', 'dogs', 'pets', 'shorts'])}/project_${index}`;
    const plan = planFor(index, 'single-user', runRandom);
    const runStartMs = startMs + index * 180_000 + runRandom.int(0, 120_000);
    const simulator = new RunSimulator(
      runRandom,
      version.workflow,
      {
        run_id: runId,
        project_name: projectPath.split('/').pop() ?? '',
        project_path: projectPath,
        workflow_path: `/home/user/workflows/${version.workflow.workflow_id}/workflow_v3.json`,
        workflow_template_id: version.workflow_template_id,
        workflow_template_name: version.workflow.workflow_id,
        workflow_version_id: version.workflow_version_id,
        start_ms: runStartMs,
        media_base: '/mnt/g/wm/media',
        jump_site: 'review_image_prompts',
      },
      plan,
      false,
    );
    const run = simulator.simulate();
    // §3.2: runs from before branches existed have no branch and events without (or with null) branch_id.
    const branchless = run.branches.length === 1 && runRandom.chance(0.12);
    const versionMissing = runRandom.chance(0.15);

    const workflowDoc: Record<string, unknown> = {
      workflow_id: runId,
      workflow_template_id: version.workflow_template_id,
      project_path: projectPath,
      workflow_path: `/home/user/workflows/${version.workflow.workflow_id}/workflow_v3.json`,
      status: run.status,
      current_step: run.current_step,
      created_at: run.created_at,
      updated_at: run.updated_at,
    };
    if (!versionMissing) workflowDoc['current_workflow_version_id'] = run.current_version_id;
    if (!branchless) workflowDoc['current_branch_id'] = run.current_branch_id;
    if (runRandom.chance(0.3)) workflowDoc['ai_config_path'] = `${projectPath}/ai_config.json`;
    await writer.add('workflows', workflowDoc, run.created_at);

    if (!branchless) {
      for (const branch of run.branches) {
        // Old format (§2.2): parent pointers, no lineage.
        await writer.add(
          'branches',
          {
            branch_id: branch.branch_id,
            workflow_id: runId,
            parent_branch_id: branch.parent_branch_id,
            parent_event_id: branch.parent_event_id,
            created_at: branch.created_at,
          },
          branch.created_at,
        );
      }
    }
    for (const event of run.events) {
      const doc = eventDocument(event, { workflow_id: runId }, {});
      if (branchless) {
        if (runRandom.chance(0.5)) delete doc['branch_id'];
        else doc['branch_id'] = null;
      }
      await writer.add('events', doc, event.timestamp);
      countEvent(eventTypeCounts, event.event_type);
      events++;
    }
    for (const call of run.llm_calls) {
      // Legacy flat token record keyed by workflow_id (§1.1, §6.1): no cost fields.
      await writer.add(
        'tokens',
        {
          workflow_id: runId,
          timestamp: call.at,
          step_id: call.step_id,
          step_name: call.step_name,
          module_name: call.module_name,
          module_index: call.module_index,
          model: call.model,
          prompt_tokens: call.prompt_tokens,
          completion_tokens: call.completion_tokens,
          cached_tokens: call.cached_tokens,
          total_tokens: call.total_tokens,
        },
        call.at,
      );
      tokens++;
    }
    optionUsage.record(version.workflow_template_id, run);
    collectKeywords(keywords, version.workflow_template_id, run);
    if (run.waiting_kind === 'select' || run.waiting_kind === 'text_input')
      waitingRunIds.push(runId);
  }

  for (const row of keywords.values()) {
    const expiryDays = row.source === 'selected' ? 10 : 5; // keyword_history expiry config (§7.2 @ 1a8651bf)
    await writer.add(
      'keyword_history',
      {
        workflow_template_id: row.workflow_template_id,
        step_id: 'scene_generation',
        module_name: 'save_scene_keywords',
        keyword: row.keyword,
        total_weight: row.total_weight,
        last_used: row.last_used,
        expires: new Date(row.last_used.getTime() + expiryDays * dayMs),
        source: row.source,
        category: row.category,
      },
      row.last_used,
    );
  }
  await optionUsage.write(writer);
  await writeConfig(writer, new Date(startMs - 90 * dayMs));
  return {
    events,
    eventTypeCounts,
    waitingRunIds,
    users: [],
    tokens,
    workflowFiles: 0,
    mediaFiles: 0,
  };
}

function collectKeywords(
  keywords: Map<
    string,
    {
      workflow_template_id: string;
      keyword: string;
      category: string;
      source: string;
      total_weight: number;
      last_used: Date;
    }
  >,
  templateId: string,
  run: SimulatedRun,
): void {
  for (const k of run.scene_keywords) {
    const key = [templateId, k.keyword.toLowerCase()].join('\u0000');
    const row = keywords.get(key);
    if (row) {
      row.total_weight += 1;
      if (k.at > row.last_used) row.last_used = k.at;
      if (k.source === 'selected') row.source = 'selected';
    } else {
      keywords.set(key, {
        workflow_template_id: templateId,
        keyword: k.keyword.toLowerCase(),
        category: k.category,
        source: k.source,
        total_weight: 1,
        last_used: k.at,
      });
    }
  }
}
