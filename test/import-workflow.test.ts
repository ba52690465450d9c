import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  interactionRequestSchema,
  translateOriginalInteractionRequest,
  translateOriginalWorkflow,
  workflowDefinitionSchema,
  type RunView,
} from '@stepwise/shared';
import { resolveOriginalWorkflow } from '../packages/cli/src/original-workflow.js';
import { useTestDatabases } from './support/databases.js';
import { createTestUser, startTestGateway, startTestResolver } from './support/gateway.js';
import { startTestRunner } from './support/runner.js';
import { RunsClient } from './support/runs.js';

/**
 * `stepwise import-workflow` (issue 24): workflows of the original system, resolved from their
 * folder, translated, reported by path, and submitted through the real CLI to a real gateway.
 */
const db = await useTestDatabases('import_workflow');
const gateway = await startTestGateway(db);
await startTestResolver(db);
await startTestRunner(db);

const root = new URL('../', import.meta.url).pathname;
const fixtures = join(root, 'test/fixtures/original-workflows');
const configDir = mkdtempSync(join(tmpdir(), 'stepwise-import-'));

function stepwise(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [join(root, 'packages/cli/dist/main.js'), ...args],
      { env: { ...process.env, STEPWISE_CONFIG_DIR: configDir, NO_COLOR: '1' } },
      (error, stdout, stderr) =>
        done({
          code: error ? Number(error.code ?? 1) : 0,
          stdout: String(stdout),
          stderr: String(stderr),
        }),
    );
  });
}

/** The value at a report path (`steps[2].modules[1].inputs.system`) of a document, if any. */
function at(document: unknown, path: string): { found: boolean } {
  if (path === '') return { found: true };
  let current: unknown = document;
  for (const part of path.match(/[^.[\]]+|\[\d+\]/g) ?? []) {
    const key: string | number = part.startsWith('[') ? Number(part.slice(1, -1)) : part;
    if (typeof current !== 'object' || current === null || !(key in current))
      return { found: false };
    current = (current as Record<string | number, unknown>)[key];
  }
  return { found: true };
}

let client: RunsClient;
beforeAll(async () => {
  const apiKey = (await createTestUser(gateway, 'importer')).api_key;
  client = new RunsClient(gateway, apiKey);
  const login = await stepwise('login', '--server', gateway.url, '--key', apiKey);
  expect(login.code, login.stderr).toBe(0);
});

describe('importing the original Cuddle Crew workflow', () => {
  it('resolves its folder and translates; every untranslated item names a path of the original', async () => {
    const original = await resolveOriginalWorkflow(join(fixtures, 'cc/workflow_v3.json'));
    expect(JSON.stringify(original)).not.toContain('"$ref"');
    const translation = translateOriginalWorkflow(original);
    expect(workflowDefinitionSchema.safeParse(translation.workflow).success).toBe(true);
    expect(translation.runnable).toBe(false);
    for (const item of translation.untranslated)
      expect(at(original, item.path).found, `${item.path}: ${item.reason}`).toBe(true);
    const paths = translation.untranslated.map((item) => item.path);
    // media generation, Mongo pipelines, in-question retries and Python-only Jinja are listed.
    expect(paths).toEqual(
      expect.arrayContaining([
        'status_display',
        'steps[1].modules[1].inputs.exclusion_list',
        'steps[1].modules[3]',
        'steps[1].modules[5].retryable.options[1]',
        'steps[2].modules[2]',
        'steps[3].modules[0].inputs.input[0]',
        'steps[9].modules[0].inputs.template',
      ]),
    );
    const stepIds = (translation.workflow['steps'] as { step_id: string }[]).map(
      (step) => step.step_id,
    );
    expect(stepIds).toContain('user_input');
    expect(stepIds).toContain('workflow_summary');
    const kept = translateOriginalWorkflow(original, { keepUntranslated: true });
    expect(workflowDefinitionSchema.safeParse(kept.workflow).success).toBe(true);
    expect((kept.workflow['steps'] as unknown[]).length).toBe(10);
  });

  it('prints the report as JSON with --dry-run --json, submitting nothing', async () => {
    const result = await stepwise(
      'import-workflow',
      join(fixtures, 'cc/workflow_v3.json'),
      '--dry-run',
      '--json',
    );
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as {
      workflow: { workflow_id: string };
      untranslated: unknown[];
      submitted: null;
    };
    expect(report.workflow.workflow_id).toBe('cuddle_crew');
    expect(report.untranslated.length).toBeGreaterThan(0);
    expect(report.submitted).toBeNull();
  });

  it('fails with --strict when anything did not translate', async () => {
    const result = await stepwise(
      'import-workflow',
      join(fixtures, 'variants/untranslatable/workflow.json'),
      '--strict',
    );
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('steps[1].modules[0] [media.generate]');
    expect(result.stderr).toMatch(/error IMPORT_INCOMPLETE: --strict: \d+ part\(s\)/);
  });

  it('refuses a $ref that leaves the folder, a cycle and a missing file, clearly', async () => {
    const refused: [file: string, says: string][] = [
      ['escape.json', "'$ref' ../../simple/steps/pick.json leaves the workflow folder"],
      ['cycle.json', 'a $ref cycle: cycle.json -> steps/a.json -> steps/b.json -> steps/a.json'],
      ['missing.json', 'names a file that does not exist'],
    ];
    for (const [file, says] of refused) {
      const result = await stepwise(
        'import-workflow',
        join(fixtures, 'variants/bad-refs', file),
        '--dry-run',
      );
      expect(result.code, file).toBe(1);
      expect(result.stderr, file).toContain(says);
    }
  });
});

describe('a fully translatable workflow', () => {
  it('is submitted by the CLI, and a run of it asks the question the original asked', async () => {
    const result = await stepwise(
      'import-workflow',
      join(fixtures, 'variants/simple/workflow.json'),
      '--strict',
    );
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('untranslated: nothing');
    expect(result.stdout).toMatch(/created: pet_names ver_/);

    const { run: started } = await client.start({ workflow_template_name: 'pet_names' });
    let run: RunView = started;
    for (let tries = 0; run.status !== 'awaiting_input' && tries < 100; tries += 1) {
      await new Promise((wait) => setTimeout(wait, 100));
      run = await client.get(started.workflow_run_id);
    }
    expect(run.status).toBe('awaiting_input');
    const pending = run.pending_interaction;
    expect(pending?.module_name).toBe('select_pet');

    // The request rebuilt from an original interaction_requested event is the one the runner made.
    const pets = [
      { id: 'cat', label: 'Cat', description: 'Independent and curious' },
      { id: 'dog', label: 'Dog', description: 'Loyal and playful' },
    ];
    const rebuilt = translateOriginalInteractionRequest('user.select', {
      interaction_type: 'select_from_structured',
      title: 'Which pet?',
      options: [],
      min_selections: 1,
      max_selections: 1,
      _resolved_inputs: { prompt: 'Which pet?', data: pets, multi_select: false, mode: 'select' },
    });
    expect(interactionRequestSchema.safeParse(rebuilt?.request).success).toBe(true);
    expect(pending?.request).toEqual(rebuilt?.request);

    const answered = await client.answerPending(run, { selected_indices: [1] });
    expect(answered.pending_interaction?.module_name ?? 'get_name').toBe('get_name');
    const { state } = await client.state(started.workflow_run_id);
    expect(state).toMatchObject({ pet_indices: [1], pet_selection: pets[1] });
  });
});
