// Simulated people working through runs over the HTTP API: they start runs, answer what they are
// asked, and now and then retry a step, branch from an earlier point, or resume on a changed
// version. They carry on through faults (a failed request is retried later, from a fresh read), and
// keep a record of every answer the server said it applied, so the verification can check that
// each one is in the log exactly once.

import { effectfulWorkflow, startFakeProvider } from '../test/support/fake-provider.mjs';

export const workflowV1 = {
  workflow_id: 'soak_pipeline',
  initial_state: { round: 1 },
  steps: [
    {
      step_id: 'draft',
      modules: [
        {
          module_id: 'transform.set',
          name: 'title',
          inputs: { value: 'A clip about {{ run.project_name }}' },
          outputs_to_state: { value: 'title' },
        },
        {
          module_id: 'user.text_input',
          name: 'idea',
          inputs: { prompt: 'An idea for {{ state.title }}?', max_length: 200 },
          outputs_to_state: { value: 'idea' },
        },
        {
          module_id: 'user.confirm',
          name: 'approve_idea',
          inputs: { message: 'Go with “{{ state.idea }}”?' },
        },
      ],
    },
    {
      step_id: 'render',
      modules: [
        {
          module_id: 'transform.template',
          name: 'prompt',
          inputs: { template: 'Make {{ state.title }}: {{ state.idea }}' },
          outputs_to_state: { text: 'prompt' },
        },
        {
          module_id: 'user.confirm',
          name: 'approve_render',
          inputs: { message: 'Ship “{{ state.prompt }}”?' },
        },
      ],
    },
  ],
};

/** The same workflow with a changed final question: resuming onto it is a version switch. */
export const workflowV2 = structuredClone(workflowV1);
workflowV2.steps[1].modules[1].inputs.message = 'Ready to publish “{{ state.prompt }}”?';

/** Small deterministic PRNG (mulberry32), so a soak can be replayed from its seed. */
export function randomSource(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** What all simulated users observed: request outcomes, latencies and acknowledged answers. */
export class LoadRecord {
  constructor() {
    this.latencies = [];
    this.statuses = new Map();
    this.failures = new Map();
    this.acceptedCommands = 0;
    this.acknowledgedAnswers = []; // {run_id, branch_id, interaction_id}
    this.actions = new Map();
    this.runIds = new Set();
  }

  count(map, key) {
    map.set(key, (map.get(key) ?? 0) + 1);
  }
}

/**
 * One person: loops until `deadline`, a run at a time. `api(path, init)` answers
 * `{status, body}` or throws on a network failure or timeout. `versions` are the ids of the two
 * versions of the person's workflow, `workflows` their bodies (what a resume submits).
 * `onRun(started, left)` hears of each run the person starts and of the one they leave (the
 * cluster soak follows their streams); at the deadline it is called with `started` null.
 */
export async function simulateUser({
  api,
  random,
  deadline,
  record,
  versions,
  workflows = { v1: workflowV1, v2: workflowV2 },
  onRun = () => undefined,
}) {
  let run = null;
  const act = async (name, path, init) => {
    const started = performance.now();
    let response;
    try {
      response = await api(path, init);
    } catch (error) {
      record.count(record.failures, `${name}: ${error.cause?.code ?? error.name}`);
      return null;
    }
    record.count(record.statuses, `${name} ${response.status}`);
    if (response.status < 500) record.latencies.push(performance.now() - started);
    else
      record.count(
        record.failures,
        `${name}: ${response.status} ${response.body?.error?.code ?? ''}`,
      );
    return response;
  };
  const accepted = (name, response) => {
    if (response && response.status >= 200 && response.status < 300) {
      record.acceptedCommands += 1;
      record.count(record.actions, name);
      return true;
    }
    return false;
  };

  while (Date.now() < deadline) {
    if (!run || (run.status !== 'running' && run.status !== 'awaiting_input')) {
      const created = await act('create', '/v1/runs', {
        method: 'POST',
        body: {
          workflow_version_id: versions.v1,
          project_name: `soak-${Math.floor(random() * 1e9)}`,
        },
      });
      if (accepted('create', created)) {
        const left = run?.workflow_run_id ?? null;
        run = created.body;
        record.runIds.add(run.workflow_run_id);
        onRun(run.workflow_run_id, left);
      } else await sleep(300);
      continue;
    }
    const read = await act('read', `/v1/runs/${run.workflow_run_id}?wait=true&wait_ms=3000`);
    if (!read || read.status !== 200) {
      await sleep(300);
      continue;
    }
    run = read.body;
    const dice = random();
    if (run.status === 'awaiting_input' && dice < 0.8) {
      const pending = run.pending_interaction;
      const response =
        pending.module_id === 'user.text_input'
          ? { value: `idea ${Math.floor(random() * 1000)}` }
          : { confirmed: true };
      const answered = await act(
        'answer',
        `/v1/runs/${run.workflow_run_id}/interactions/${pending.interaction_id}`,
        { method: 'POST', body: { response } },
      );
      // 200 means applied; 202 only accepted into the run's inbox, where a command ahead of it
      // (a branch, a resume) may still make it moot. Accepted commands are checked in the inbox.
      if (accepted('answer', answered) && answered.status === 200)
        record.acknowledgedAnswers.push({
          run_id: run.workflow_run_id,
          branch_id: run.active_branch_id,
          interaction_id: pending.interaction_id,
        });
    } else if (dice < 0.88 && run.current_step) {
      accepted(
        'retry',
        await act('retry', `/v1/runs/${run.workflow_run_id}/retry`, {
          method: 'POST',
          body: { step_id: run.current_step, feedback: 'once more' },
        }),
      );
    } else if (dice < 0.95) {
      const page = await act('events', `/v1/runs/${run.workflow_run_id}/events?limit=100`);
      const points = (page?.body?.items ?? []).filter(
        (e) => e.event_type === 'interaction_requested',
      );
      const point = points[Math.floor(random() * points.length)];
      if (point)
        accepted(
          'branch',
          await act('branch', `/v1/runs/${run.workflow_run_id}/branches`, {
            method: 'POST',
            body: { from_event_id: point.event_id },
          }),
        );
    } else {
      const resumed = await act('resume', `/v1/runs/${run.workflow_run_id}/resume`, {
        method: 'POST',
        body: run.current_version_id === versions.v2 ? workflows.v1 : workflows.v2,
      });
      if (resumed?.status === 409 && resumed.body?.error?.code === 'VERSION_MISMATCH') {
        accepted(
          'resume',
          await act('resume_confirm', `/v1/runs/${run.workflow_run_id}/resume/confirm`, {
            method: 'POST',
            body: {
              choice: 'continue_with_new',
              submitted_version_id: resumed.body.error.details.submitted_version,
            },
          }),
        );
      } else accepted('resume', resumed);
    }
  }
  onRun(null, run?.workflow_run_id ?? null);
}

/**
 * The LLM and render provider both soaks use: answers after 0-150 ms (as a real one takes its
 * time, so that commands and faults land while calls are open), and keeps the books the verifier
 * compares; with the two versions of the workflow with side effects that runs against it.
 */
export async function startSoakProvider(seed) {
  const providerRandom = randomSource(seed ^ 0x5eed);
  const provider = await startFakeProvider({ delayMs: () => Math.floor(providerRandom() * 150) });
  const effectfulWorkflows = {
    v1: effectfulWorkflow({ renderUrl: provider.renderUrl, workflowId: 'soak_effects' }),
    v2: effectfulWorkflow({
      renderUrl: provider.renderUrl,
      workflowId: 'soak_effects',
      confirmMessage: 'Ready to publish “{{ state.draft }}”?',
    }),
  };
  return { provider, effectfulWorkflows };
}
