// Seeds a fresh stack through its HTTP API, as a person would, so that the fuzzer meets real
// objects: without them nearly every `/v1/runs/{id}` request answers 404 and the schemas of the
// successful answers are never checked. Makes a user (the fuzzer's identity) with a spare key,
// the pet-clips example (zip upload, with user.select, user.text_input, user.form and
// user.confirm) and a small JSON workflow, runs waiting at each kind of question, a finished run,
// a cancelled one and a branch. Answers every id it made, for the fuzzer's dictionaries.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import JSZip from 'jszip';

async function zipFolder(dir) {
  const zip = new JSZip();
  const walk = (current) => {
    for (const name of readdirSync(current).sort()) {
      const path = join(current, name);
      if (statSync(path).isDirectory()) walk(path);
      else zip.file(relative(dir, path).split('\\').join('/'), readFileSync(path));
    }
  };
  walk(dir);
  return zip.generateAsync({ type: 'nodebuffer', compression: 'DEFLATE' });
}

/**
 * A second template, submitted as JSON (no $refs): it stores an artifact first, so that
 * `GET /v1/artifacts/{artifact_id}/content` has something to serve, then asks two questions.
 */
const jsonWorkflow = {
  workflow_id: 'fuzz_checklist',
  name: 'Fuzz checklist',
  description: 'Seeded by the contract fuzzer: choose, then confirm',
  initial_state: { items: ['alpha', 'beta', 'gamma'] },
  steps: [
    {
      step_id: 'choose',
      name: 'Choose',
      modules: [
        {
          module_id: 'artifact.save',
          name: 'save_notes',
          inputs: { name: 'notes.txt', content: 'Checklist for {{ run.project_name }}' },
          outputs_to_state: { artifact_id: 'notes_artifact' },
        },
        {
          module_id: 'user.select',
          name: 'pick',
          inputs: { prompt: 'Which item?', options: '{{ state.items }}' },
          outputs_to_state: { selected: 'item' },
        },
      ],
    },
    {
      step_id: 'check',
      name: 'Check',
      modules: [
        {
          module_id: 'user.confirm',
          name: 'sure',
          inputs: { message: 'Use {{ state.item }}?' },
          outputs_to_state: { confirmed: 'sure' },
        },
      ],
    },
  ],
};

/** The answers that move a pet-clips run past each of its questions, in order. */
const petClipsAnswers = [
  { selected_indices: [1] },
  { value: 'A cat and a cucumber' },
  { values: { duration_s: 20, mood: 'funny', music: true } },
  { confirmed: true },
];

export async function seedStack({ base, adminToken, examplesDir, log }) {
  const call = async (method, path, { token, json, body, contentType, expect }) => {
    const headers = { authorization: `Bearer ${token}` };
    if (json !== undefined) headers['content-type'] = 'application/json';
    if (contentType) headers['content-type'] = contentType;
    const response = await fetch(`${base}${path}`, {
      method,
      headers,
      body: json === undefined ? body : JSON.stringify(json),
    });
    const text = await response.text();
    const answer = text === '' ? null : JSON.parse(text);
    if (!expect.includes(response.status)) {
      throw new Error(`seeding: ${method} ${path} answered ${response.status}: ${text}`);
    }
    return answer;
  };

  const created = await call('POST', '/v1/admin/users', {
    token: adminToken,
    json: { username: 'contract_fuzzer', email: 'contract-fuzzer@example.com' },
    expect: [201],
  });
  const apiKey = created.api_key;
  const user = (method, path, options = {}) => call(method, path, { token: apiKey, ...options });
  // A key the fuzzer may revoke: DELETE /v1/me/keys/{key_id} then has a real target that is not
  // the key it authenticates with (hooks.py keeps that one from being revoked).
  const spareKey = await user('POST', '/v1/me/keys', { expect: [201] });

  const petClips = await user('POST', '/v1/workflows', {
    body: await zipFolder(join(examplesDir, 'pet-clips')),
    contentType: 'application/zip',
    expect: [200, 201],
  });
  const checklist = await user('POST', '/v1/workflows', { json: jsonWorkflow, expect: [200, 201] });

  /** Waits until the runner has taken the run past `running` (routes answer 202 when it is slow). */
  const settled = async (run) => {
    if (run.status !== 'running' && run.status !== 'pending') return run;
    return user('GET', `/v1/runs/${run.workflow_run_id}?wait=true&wait_ms=30000`, {
      expect: [200],
    });
  };
  const answer = async (run, response) => {
    const interaction = run.pending_interaction;
    if (!interaction) throw new Error(`seeding: run ${run.workflow_run_id} asks nothing`);
    return settled(
      await user(
        'POST',
        `/v1/runs/${run.workflow_run_id}/interactions/${interaction.interaction_id}`,
        {
          json: { response },
          expect: [200, 202],
        },
      ),
    );
  };
  const start = async (templateName, projectName) =>
    settled(
      await user('POST', '/v1/runs', {
        json: { workflow_template_name: templateName, project_name: projectName },
        expect: [201, 202],
      }),
    );

  // One pet-clips run waiting at each question (0..3 answers given), one finished (all 4).
  const runs = [];
  for (let answered = 0; answered <= petClipsAnswers.length; answered++) {
    let run = await start(petClips.workflow_template_name, `fuzz-${answered}`);
    for (const response of petClipsAnswers.slice(0, answered)) run = await answer(run, response);
    runs.push(run);
  }
  const cancelled = await settled(
    await user(
      'POST',
      `/v1/runs/${(await start(petClips.workflow_template_name, 'fuzz-cancelled')).workflow_run_id}/cancel`,
      {
        expect: [200, 202],
      },
    ),
  );
  runs.push(cancelled);
  runs.push(await start(checklist.workflow_template_name, 'fuzz-checklist'));

  // A branch from the first event of the run waiting at its last question.
  const atConfirm = runs[3];
  const events = await user('GET', `/v1/runs/${atConfirm.workflow_run_id}/events`, {
    expect: [200],
  });
  const firstEvent = events.items[0];
  const branched = await user('POST', `/v1/runs/${atConfirm.workflow_run_id}/branches`, {
    json: { from_event_id: firstEvent.event_id },
    expect: [200, 201, 202],
  });
  runs[3] = await settled(branched.run ?? atConfirm);

  const allEvents = [];
  const artifacts = [];
  for (const run of runs) {
    const page = await user('GET', `/v1/runs/${run.workflow_run_id}/events`, { expect: [200] });
    allEvents.push(...page.items);
    const stored = await user('GET', `/v1/runs/${run.workflow_run_id}/artifacts`, {
      expect: [200],
    });
    artifacts.push(...stored.items);
  }
  const waiting = runs.filter((run) => run.pending_interaction);
  log(
    `seeded: user ${created.user.user_id}, templates ${petClips.workflow_template_name} and ` +
      `${checklist.workflow_template_name}, ${runs.length} runs (${waiting.length} waiting for an answer)`,
  );
  const unique = (values) => [...new Set(values.filter((value) => typeof value === 'string'))];
  return {
    apiKey,
    keyId: created.key_id,
    userId: created.user.user_id,
    ids: {
      run: unique(runs.map((run) => run.workflow_run_id)),
      interaction: unique(waiting.map((run) => run.pending_interaction.interaction_id)),
      version: unique([petClips.workflow_version_id, checklist.workflow_version_id]),
      template: unique([petClips.workflow_template_name, checklist.workflow_template_name]),
      key: unique([spareKey.key_id]),
      branch: unique([...runs.map((run) => run.active_branch_id), branched.branch?.branch_id]),
      event: unique(allEvents.map((event) => event.event_id)),
      step: unique(allEvents.map((event) => event.step_id)),
      module: unique(allEvents.map((event) => event.module_name)),
      project: unique(runs.map((run) => run.project_name)),
      artifact: unique(artifacts.map((artifact) => artifact.artifact_id)),
    },
  };
}
