import type { BulkWriter } from './bulk-writer.js';
import { OptionUsage, countEvent, eventDocument, writeConfig } from './common-docs.js';
import {
  apiCallFiles,
  branchDocument,
  llmTokenRecord,
  mediaTokenRecord,
  writeGeneration,
} from './multi-user-records.js';
import { writeAccounts, type FixtureUser } from './multi-user-accounts.js';
import { writeTemplates, type UserTemplate } from './multi-user-templates.js';
import { planFor } from './plans.js';
import { SeededRandom } from './random.js';
import { RunSimulator } from './simulator.js';
import type { SimulatedRun } from './simulator-types.js';

/**
 * The multi-user generation (research §1.2, §2): everything after the original's m_0…m_12.
 */

export interface GenerationResult {
  events: number;
  eventTypeCounts: Record<string, number>;
  waitingRunIds: string[];
  users: { user_id: string; username: string; access_keys: string[] }[];
  tokens: number;
  workflowFiles: number;
  mediaFiles: number;
}

const dayMs = 86_400_000;

export async function writeMultiUser(
  writer: BulkWriter,
  seed: string,
  runs: number,
  startMs: number,
  mediaDir: string,
): Promise<GenerationResult> {
  const random = new SeededRandom(seed, 'multi-user', 'shared');
  const users: FixtureUser[] = await writeAccounts(writer, random, startMs);
  const templates: UserTemplate[] = await writeTemplates(writer, random, users, startMs);
  const optionUsage = new OptionUsage();
  const keywords = new Map<string, Record<string, unknown> & { weight: number; last_used: Date }>();
  const eventTypeCounts: Record<string, number> = {};
  const waitingRunIds: string[] = [];
  const usedIds = new Set<string>();
  let events = 0;
  let tokens = 0;
  let workflowFiles = 0;
  let mediaFiles = 0;
  const preRelativeRuns = Math.floor(runs * 0.15);

  for (let index = 0; index < runs; index++) {
    const runRandom = new SeededRandom(seed, 'multi-user', 'run', String(index));
    let runId = `wf_${runRandom.hex(12)}`;
    while (usedIds.has(runId)) runId = `wf_${runRandom.hex(12)}`;
    usedIds.add(runId);
    // The deactivated user only has runs from the first fifth of the history.
    const candidates = templates.filter(
      (t) => users.find((u) => u.user_id === t.user_id)?.is_active || index < runs / 5,
    );
    const template = runRandom.chance(0.8)
      ? runRandom.pick(candidates.filter((t) => t.workflow_template_name === 'cuddle_crew'))
      : runRandom.pick(candidates);
    const version = runRandom.pick(template.versions);
    const plan = planFor(index, 'multi-user', runRandom);
    const newer = template.versions.filter((v) => v.created_at > version.created_at);
    if (plan.resumeAt && newer.length > 0 && runRandom.chance(0.5))
      plan.resumeToVersionId = runRandom.pick(newer).workflow_version_id;
    const projectName = `project_${index}`;
    const runStartMs = startMs + index * 180_000 + runRandom.int(0, 120_000);
    const run: SimulatedRun = new RunSimulator(
      runRandom,
      version.workflow,
      {
        run_id: runId,
        project_name: projectName,
        project_path: projectName,
        workflow_path: '',
        workflow_template_id: template.workflow_template_id,
        workflow_template_name: template.workflow_template_name,
        workflow_version_id: version.workflow_version_id,
        start_ms: runStartMs,
        media_base: mediaDir,
        jump_site: 'generate_and_select_images',
      },
      plan,
      true,
    ).simulate();

    const runDoc: Record<string, unknown> = {
      workflow_run_id: runId,
      user_id: template.user_id,
      project_name: projectName,
      workflow_template_name: template.workflow_template_name,
      workflow_template_id: template.workflow_template_id,
      current_workflow_version_id: run.current_version_id,
      current_branch_id: run.current_branch_id,
      status: run.status,
      created_at: run.created_at,
      updated_at: run.updated_at,
      current_step: run.current_step,
      current_step_name: run.current_step_name,
      current_module: run.current_module,
    };
    if (run.completed_at) runDoc['completed_at'] = run.completed_at;
    // §2.1: ai_config may hold plaintext API keys.
    const aiConfig: Record<string, unknown> = {
      provider: plan.llmProvider,
      model: plan.llmProvider === 'anthropic' ? 'claude-sonnet-4-20250514' : 'gpt-5.2',
    };
    if (runRandom.chance(0.2))
      aiConfig[plan.llmProvider === 'anthropic' ? 'anthropic_api_key' : 'api_key'] =
        `sk-${runRandom.base64url(40)}`;
    if (runRandom.chance(0.7)) runDoc['ai_config'] = aiConfig;
    await writer.add('workflow_runs', runDoc, run.created_at);

    for (const entry of run.version_history) {
      const entryVersion = template.versions.find(
        (v) => v.workflow_version_id === entry.workflow_version_id,
      );
      await writer.add(
        'workflow_run_version_history',
        {
          workflow_run_id: runId,
          workflow_version_id: entry.workflow_version_id,
          client_capabilities: entryVersion?.version_type === 'resolved' ? ['webui', 'tui'] : [],
          workflow_version_requirements:
            entryVersion?.version_type === 'resolved' ? entryVersion.requires : [],
          created_at: entry.at,
        },
        entry.at,
      );
    }
    const branchFormat = runRandom.chance(0.05)
      ? 'old'
      : runRandom.chance(0.2)
        ? 'converted'
        : 'lineage';
    for (const branch of run.branches)
      await writer.add('branches', branchDocument(runId, branch, branchFormat), branch.created_at);
    for (const event of run.events) {
      await writer.add(
        'events',
        eventDocument(
          event,
          { workflow_run_id: runId },
          { workflow_version_id: event.workflow_version_id },
        ),
        event.timestamp,
      );
      countEvent(eventTypeCounts, event.event_type);
      events++;
    }
    // Sub-action child runs: no user, project or template fields; status never moved on (§2.1).
    for (const child of run.child_runs) {
      await writer.add(
        'workflow_runs',
        {
          workflow_run_id: child.run_id,
          parent_workflow_id: runId,
          execution_id: child.execution_id,
          visible_in_ui: false,
          status: 'processing',
          created_at: child.created_at,
          current_branch_id: child.branch_id,
        },
        child.created_at,
      );
    }
    for (const branch of run.child_branches) {
      const child = run.child_runs.find((c) => c.branch_id === branch.branch_id);
      await writer.add(
        'branches',
        branchDocument(child?.run_id ?? runId, branch, 'lineage'),
        branch.created_at,
      );
    }
    for (const childLog of run.child_events) {
      for (const event of childLog.events) {
        await writer.add(
          'events',
          eventDocument(event, { workflow_run_id: childLog.run_id }, { workflow_version_id: null }),
          event.timestamp,
        );
        countEvent(eventTypeCounts, event.event_type);
        events++;
      }
    }
    for (const call of run.llm_calls) {
      await writer.add('tokens', llmTokenRecord(call), call.at);
      tokens++;
      for (const file of apiCallFiles(call)) {
        await writer.add(
          'workflow_files',
          { file_id: `wff_${runRandom.hex(32)}`, ...file },
          call.at,
        );
        workflowFiles++;
      }
    }
    for (const saved of run.saved_files) {
      await writer.add(
        'workflow_files',
        {
          file_id: saved.file_id,
          workflow_run_id: runId,
          branch_id: saved.branch_id,
          category: saved.category,
          group_id: saved.group_id,
          filename: saved.filename,
          content_type: 'json',
          content: saved.content,
          metadata: { step_id: saved.step_id, target_path: saved.target_path, file_role: 'output' },
          created_at: saved.at,
        },
        saved.at,
      );
      workflowFiles++;
    }
    for (const generation of run.media) {
      await writer.add('tokens', mediaTokenRecord(generation), generation.completed_at);
      tokens++;
      mediaFiles += await writeGeneration(
        writer,
        generation,
        mediaDir,
        index < preRelativeRuns,
        runRandom,
      );
    }
    optionUsage.record(template.workflow_template_id, run);
    for (const k of run.scene_keywords) {
      const key = `${template.workflow_template_id}\u0000${k.keyword.toLowerCase()}`;
      const row = keywords.get(key);
      if (row) {
        row.weight += 1;
        if (k.at > row.last_used) row.last_used = k.at;
        if (k.source === 'selected') row['source'] = 'selected';
      } else {
        keywords.set(key, {
          workflow_template_id: template.workflow_template_id,
          keyword: k.keyword.toLowerCase().trim(),
          weight: 1,
          last_used: k.at,
          category: k.category,
          source: k.source,
        });
      }
    }
    if (run.waiting_kind === 'select' || run.waiting_kind === 'text_input')
      waitingRunIds.push(runId);
  }

  for (const row of keywords.values())
    await writer.add('weighted_keywords', { ...row }, row.last_used);
  await optionUsage.write(writer);
  await writeConfig(writer, new Date(startMs - 90 * dayMs));
  return {
    events,
    eventTypeCounts,
    waitingRunIds,
    users: users.map(({ user_id, username, access_keys }) => ({ user_id, username, access_keys })),
    tokens,
    workflowFiles,
    mediaFiles,
  };
}
