import type { mongo } from 'mongoose';

type Db = mongo.Db;
import { derivedHex, derivedObjectId } from './deterministic.js';
import type { LegacyStatus } from './legacy-records.js';

/**
 * Builds a realistic single-user database (the schema of shared/spec legacy.md), the same for the
 * same seed: templates with several versions, runs in every old status, multi-branch event logs,
 * keyword history, option usage, and a few orphans. It also returns, per run, the state the old
 * system showed, for tests to compare the migrated runs with.
 */

export interface GeneratedLegacy {
  runs: {
    workflow_id: string;
    status: LegacyStatus;
    template_name: string;
    expected_state: Record<string, unknown>;
    branches: number;
  }[];
  events: number;
  orphan_event_ids: string[];
  orphan_run_ids: string[];
}

function prng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const statuses: LegacyStatus[] = ['created', 'processing', 'awaiting_input', 'completed', 'error'];

function workflowOf(name: string, version: number) {
  return {
    workflow_id: name,
    initial_state: { topic: 'cats' },
    config: {},
    steps: [
      {
        step_id: 'intro',
        modules: [
          {
            module_id: 'transform.set',
            name: 'greet',
            inputs: { value: `hello v${version}` },
            outputs_to_state: { value: 'greeting' },
          },
        ],
      },
      {
        step_id: 'ask',
        modules: [
          {
            module_id: 'user.select',
            name: 'pick',
            inputs: { prompt: 'Pick', options: ['a', 'b', 'c'], track_key: 'opt:{{ option }}' },
            outputs_to_state: { selected: 'choice' },
          },
        ],
      },
      {
        step_id: 'write',
        modules: [
          {
            module_id: 'user.text_input',
            name: 'caption',
            inputs: { prompt: 'Caption?' },
            outputs_to_state: { value: 'caption' },
          },
        ],
      },
      {
        step_id: 'done',
        modules: [
          {
            module_id: 'user.confirm',
            name: 'ok',
            inputs: { message: 'Ship?' },
            outputs_to_state: { confirmed: 'shipped' },
          },
        ],
      },
    ],
  };
}

interface Draft {
  event_type: string;
  data: Record<string, unknown>;
}

export async function generateLegacyDatabase(
  db: Db,
  options: { seed: number; runs: number; templates?: number },
): Promise<GeneratedLegacy> {
  const random = prng(options.seed);
  const hex = (label: string, n: number) =>
    derivedHex(String(options.seed), label, String(n)).slice(0, 24);
  const base = Date.UTC(2025, 0, 1);
  const templateCount = options.templates ?? 3;
  const templates = Array.from({ length: templateCount }, (_, i) => ({
    _id: derivedObjectId('tpl', String(options.seed), String(i)),
    workflow_template_id: `tpl_${hex('tpl', i)}`,
    workflow_template_name: `legacy_flow_${i}`,
    created_at: new Date(base + i * 1000),
  }));
  await db.collection('workflow_templates').insertMany(templates);
  const versions = templates.flatMap((template, t) =>
    [1, 2].map((v) => ({
      _id: derivedObjectId('ver', String(options.seed), String(t), String(v)),
      workflow_version_id: `ver_${hex(`ver${t}`, v)}`,
      workflow_template_id: template.workflow_template_id,
      content_hash: `sha256:${derivedHex('content', String(t), String(v))}`,
      source_type: 'json',
      resolved_workflow: workflowOf(template.workflow_template_name, v),
      created_at: new Date(base + (v - 1) * 30 * 86_400_000 + t),
    })),
  );
  await db.collection('workflow_versions').insertMany(versions);

  const result: GeneratedLegacy = { runs: [], events: 0, orphan_event_ids: [], orphan_run_ids: [] };
  const runDocs: Record<string, unknown>[] = [];
  let eventDocs: Record<string, unknown>[] = [];
  const branchDocs: Record<string, unknown>[] = [];
  const flush = async () => {
    if (eventDocs.length > 0)
      await db.collection('events').insertMany(eventDocs, { ordered: false });
    result.events += eventDocs.length;
    eventDocs = [];
  };

  for (let r = 0; r < options.runs; r++) {
    const t = r % templateCount;
    const template = templates[t];
    if (!template) continue;
    const status = statuses[r % statuses.length] ?? 'completed';
    const runId = `wf_${hex('run', r).slice(0, 12)}`;
    // Runs after the second version mostly ran on it; a few have no recorded version at all.
    const createdAt = new Date(base + 40 * 86_400_000 * (r % 2) + r * 60_000);
    const recorded = r % 7 === 0 ? undefined : versions[t * 2 + (r % 2)]?.workflow_version_id;
    const rootBranch = `br_${hex('root', r)}`;
    let clock = createdAt.getTime();
    let counter = 0;
    const push = (branchId: string, draft: Draft, step?: string, module?: string) => {
      clock += 10 + Math.floor(random() * 5);
      const eventId = `evt_${hex(`evt${r}`, counter++)}`;
      eventDocs.push({
        _id: derivedObjectId('evt', String(options.seed), String(r), String(counter)),
        event_id: eventId,
        workflow_id: runId,
        branch_id: branchId,
        event_type: draft.event_type,
        data: {
          ...draft.data,
          ...(step ? { step_id: step } : {}),
          ...(module ? { module_name: module } : {}),
        },
        timestamp: new Date(clock),
      });
      return eventId;
    };

    // The run as the old system would have logged it, up to where its status says it stopped.
    const state: Record<string, unknown> = { topic: 'cats' };
    const answers = { choice: ['a', 'b', 'c'][r % 3] ?? 'a', caption: `caption ${r}` };
    push(rootBranch, {
      event_type: 'run_created',
      data: { project_name: `project-${r}`, initial_state: { topic: 'cats' } },
    });
    let askEvent = '';
    const runUntil = (branchId: string, from: 'intro' | 'ask-answer', choice: string) => {
      if (from === 'intro') {
        if (status === 'created') return;
        push(branchId, { event_type: 'step_started', data: {} }, 'intro');
        push(
          branchId,
          { event_type: 'module_started', data: { inputs: { value: 'hello' }, attempt: 1 } },
          'intro',
          'greet',
        );
        if (status === 'error') {
          push(
            branchId,
            {
              event_type: 'module_failed',
              data: {
                error: { code: 'MODULE_ERROR', message: 'the old system failed here' },
                attempt: 1,
                will_retry: false,
              },
            },
            'intro',
            'greet',
          );
          push(branchId, {
            event_type: 'run_failed',
            data: { error: { code: 'MODULE_ERROR', message: 'the old system failed here' } },
          });
          return;
        }
        push(
          branchId,
          {
            event_type: 'module_completed',
            data: { outputs: { value: 'hello' }, state_changes: { greeting: 'hello' } },
          },
          'intro',
          'greet',
        );
        state['greeting'] = 'hello';
        push(branchId, { event_type: 'step_completed', data: {} }, 'intro');
        if (status === 'processing') return;
        push(branchId, { event_type: 'step_started', data: {} }, 'ask');
        push(
          branchId,
          {
            event_type: 'module_started',
            data: { inputs: { prompt: 'Pick', options: ['a', 'b', 'c'] }, attempt: 1 },
          },
          'ask',
          'pick',
        );
        askEvent = push(
          branchId,
          {
            event_type: 'interaction_requested',
            data: {
              interaction_id: `int_${hex('int', r)}`,
              module_id: 'user.select',
              request: {
                prompt: 'Pick',
                options: ['a', 'b', 'c'].map((value, index) => ({
                  index,
                  value,
                  key: `opt:${value}`,
                  last_used: null,
                })),
                multi: false,
                min: 1,
                max: 1,
              },
            },
          },
          'ask',
          'pick',
        );
        if (status === 'awaiting_input' && r % 2 === 0) return;
      }
      push(
        branchId,
        {
          event_type: 'interaction_responded',
          data: {
            interaction_id: `int_${hex('int', r)}`,
            response: { selected_indices: [['a', 'b', 'c'].indexOf(choice)] },
          },
        },
        'ask',
        'pick',
      );
      push(
        branchId,
        {
          event_type: 'module_completed',
          data: {
            outputs: { selected: choice, selected_indices: [['a', 'b', 'c'].indexOf(choice)] },
            state_changes: { choice },
          },
        },
        'ask',
        'pick',
      );
      state['choice'] = choice;
      push(branchId, { event_type: 'step_completed', data: {} }, 'ask');
      push(branchId, { event_type: 'step_started', data: {} }, 'write');
      push(
        branchId,
        { event_type: 'module_started', data: { inputs: { prompt: 'Caption?' }, attempt: 1 } },
        'write',
        'caption',
      );
      push(
        branchId,
        {
          event_type: 'interaction_requested',
          data: {
            interaction_id: `int_${hex('cap', r)}${branchId.slice(-2)}`.slice(0, 28),
            module_id: 'user.text_input',
            request: {
              prompt: 'Caption?',
              default: null,
              pattern: null,
              min_length: null,
              max_length: null,
            },
          },
        },
        'write',
        'caption',
      );
      if (status === 'awaiting_input') return;
      push(
        branchId,
        {
          event_type: 'interaction_responded',
          data: { interaction_id: 'x', response: { value: answers.caption } },
        },
        'write',
        'caption',
      );
      push(
        branchId,
        {
          event_type: 'module_completed',
          data: {
            outputs: { value: answers.caption },
            state_changes: { caption: answers.caption },
          },
        },
        'write',
        'caption',
      );
      state['caption'] = answers.caption;
      push(branchId, { event_type: 'step_completed', data: {} }, 'write');
      push(branchId, { event_type: 'step_started', data: {} }, 'done');
      push(
        branchId,
        { event_type: 'module_started', data: { inputs: { message: 'Ship?' }, attempt: 1 } },
        'done',
        'ok',
      );
      push(
        branchId,
        {
          event_type: 'interaction_requested',
          data: {
            interaction_id: `int_${hex('ok', r)}`,
            module_id: 'user.confirm',
            request: { message: 'Ship?' },
          },
        },
        'done',
        'ok',
      );
      push(
        branchId,
        {
          event_type: 'interaction_responded',
          data: { interaction_id: `int_${hex('ok', r)}`, response: { confirmed: true } },
        },
        'done',
        'ok',
      );
      push(
        branchId,
        {
          event_type: 'module_completed',
          data: { outputs: { confirmed: true }, state_changes: { shipped: true } },
        },
        'done',
        'ok',
      );
      state['shipped'] = true;
      push(branchId, { event_type: 'step_completed', data: {} }, 'done');
      push(branchId, { event_type: 'run_completed', data: { state: { ...state } } });
    };
    runUntil(rootBranch, 'intro', answers.choice);
    branchDocs.push({
      _id: derivedObjectId('br', String(options.seed), String(r), 'root'),
      branch_id: rootBranch,
      workflow_id: runId,
      parent_branch_id: null,
      branch_point_event_id: null,
      status: 'active',
      created_at: createdAt,
    });

    let branches = 1;
    // Every third completed run was forked back at its choice and finished another way.
    if (status === 'completed' && r % 3 === 0 && askEvent) {
      const fork = `br_${hex('fork', r)}`;
      branchDocs[branchDocs.length - 1] = {
        ...branchDocs[branchDocs.length - 1],
        status: 'inactive',
      };
      branchDocs.push({
        _id: derivedObjectId('br', String(options.seed), String(r), 'fork'),
        branch_id: fork,
        workflow_id: runId,
        parent_branch_id: rootBranch,
        branch_point_event_id: askEvent,
        status: 'active',
        created_at: new Date(clock + 1),
      });
      // The fork goes back to before the choice: what came after it is not this branch's.
      for (const key of ['choice', 'caption', 'shipped']) Reflect.deleteProperty(state, key);
      push(fork, {
        event_type: 'branch_created',
        data: { branch_id: fork, parent_branch_id: rootBranch, branch_point_event_id: askEvent },
      });
      const other = answers.choice === 'c' ? 'a' : 'c';
      runUntil(fork, 'ask-answer', other);
      branches = 2;
    }
    runDocs.push({
      _id: derivedObjectId('wf', String(options.seed), String(r)),
      workflow_id: runId,
      workflow_template_id: template.workflow_template_id,
      ...(recorded ? { current_workflow_version_id: recorded } : {}),
      project_folder: `/home/user/videos/project-${r}`,
      status,
      current_step: null,
      created_at: createdAt,
      updated_at: new Date(clock),
    });
    result.runs.push({
      workflow_id: runId,
      status,
      template_name: template.workflow_template_name,
      expected_state: { ...state },
      branches,
    });
    if (eventDocs.length >= 5_000) await flush();
  }
  await flush();
  await db.collection('workflows').insertMany(runDocs);
  await db.collection('branches').insertMany(branchDocs);

  // Orphans: an event of a run that does not exist, and a run of a template that does not.
  const orphanEvent = `evt_${hex('orphan', 0)}`;
  await db.collection('events').insertOne({
    _id: derivedObjectId('orphan-event', String(options.seed)),
    event_id: orphanEvent,
    workflow_id: 'wf_0000deadbeef',
    branch_id: 'br_orphan',
    event_type: 'run_created',
    data: {},
    timestamp: new Date(base),
  });
  const orphanRun = `wf_${hex('orphan-run', 0).slice(0, 12)}`;
  await db.collection('workflows').insertOne({
    _id: derivedObjectId('orphan-run', String(options.seed)),
    workflow_id: orphanRun,
    workflow_template_id: 'tpl_missing',
    project_folder: '/tmp/x',
    status: 'completed',
    created_at: new Date(base),
    updated_at: new Date(base),
  });
  result.orphan_event_ids.push(orphanEvent);
  result.orphan_run_ids.push(orphanRun);

  // Template memory, shared by the versions.
  for (const [t, template] of templates.entries()) {
    await db.collection('keyword_history').insertMany(
      ['cinematic', 'cosy', 'neon'].map((keyword, k) => ({
        _id: derivedObjectId('kw', String(options.seed), String(t), keyword),
        workflow_template_id: template.workflow_template_id,
        step_id: 'ask',
        module_name: 'pick',
        keyword,
        total_weight: 10 - k,
        last_used: new Date(base),
        expires: new Date(Date.UTC(2099, 0, 1)),
        source: 'selected',
        category: 'style',
      })),
    );
    await db.collection('option_usage').insertMany(
      ['a', 'b'].map((option) => ({
        _id: derivedObjectId('ou', String(options.seed), String(t), option),
        workflow_template_id: template.workflow_template_id,
        step_id: 'ask',
        module_name: 'pick',
        option: `opt:${option}`,
        created_at: new Date(base),
        updated_at: new Date(base + 1000),
      })),
    );
  }
  return result;
}
