import { describe, expect, it } from 'vitest';
import { MAX_RUNS_PER_MIGRATION, errorEnvelopeSchema, newId } from '@stepwise/shared';
import { startTestStack } from '../../../test/support/stack.js';

/**
 * Bad input to `POST /v1/templates/{name}/migrations` (versions.md, "Batch migration"): each is a
 * clear 4xx in the error envelope, naming what to fix, and stores nothing.
 */
const { db, newClient } = await startTestStack('migration_input');
const owner = await newClient('migration_input_owner');
const other = await newClient('migration_input_other');

const flow = (name: string, prompt: string) => ({
  workflow_id: name,
  steps: [
    {
      step_id: 'ask',
      modules: [{ module_id: 'user.confirm', name: 'ask', inputs: { message: prompt } }],
    },
  ],
});
const v1 = await owner.submitJson(flow('input_posts', 'Publish?'));
const v2 = await owner.submitJson(flow('input_posts', 'Publish now?'));
const otherTemplateVersion = await owner.submitJson(flow('input_other', 'Other?'));
const strangersVersion = await other.submitJson(flow('input_posts', 'Publish?'));
const { run } = await owner.start({ workflow_version_id: v1 }, '?wait_ms=10000');

async function stored() {
  return Promise.all([
    db.models.migrations.countDocuments(),
    db.models.migrationRuns.countDocuments(),
    db.models.runCommands.countDocuments({ type: 'switch_version' }),
  ]);
}

async function refused(body: unknown, template = 'input_posts') {
  const before = await stored();
  const response = await owner.request(`/v1/templates/${template}/migrations`, {
    method: 'POST',
    json: body,
  });
  const envelope = errorEnvelopeSchema.parse(await response.json());
  expect(await stored()).toEqual(before);
  return { status: response.status, error: envelope.error };
}

describe('POST /v1/templates/{name}/migrations refuses bad input and stores nothing', () => {
  it('malformed bodies: 400 naming the field', async () => {
    const policy = await refused({ to_version_id: v2, policy: 'move_everything' });
    expect(policy.status).toBe(400);
    expect(JSON.stringify(policy.error.details)).toContain('body.policy');
    const finished = await refused({
      to_version_id: v2,
      policy: 'continue_with_new',
      filter: { status: 'completed' },
    });
    expect(finished.status).toBe(400);
    expect(JSON.stringify(finished.error.details)).toContain('body.filter.status');
    const unknownField = await refused({
      to_version_id: v2,
      policy: 'continue_with_new',
      everything: true,
    });
    expect(unknownField.status).toBe(400);
    const badId = await refused({ to_version_id: 'ver_nope', policy: 'continue_with_new' });
    expect(badId.status).toBe(400);
  });

  it('another user’s version, another template’s version, an unknown template: 404', async () => {
    for (const [body, template] of [
      [{ to_version_id: strangersVersion, policy: 'continue_with_new' }, 'input_posts'],
      [{ to_version_id: otherTemplateVersion, policy: 'continue_with_new' }, 'input_posts'],
      [{ to_version_id: v2, policy: 'continue_with_new' }, 'no_such_template'],
    ] as const) {
      const answer = await refused(body, template);
      expect(answer.status).toBe(404);
      expect(answer.error.code).toBe('NOT_FOUND');
    }
    // The run was not moved by any of them.
    expect((await owner.get(run.workflow_run_id)).current_version_id).toBe(v1);
  });

  it(`a filter matching more than ${MAX_RUNS_PER_MIGRATION} runs: 409, narrow it`, async () => {
    const template = await db.models.templates
      .findOne({ workflow_template_name: 'input_posts', user_id: run.user_id })
      .lean();
    const now = Date.now();
    // Bare run documents stand for runs: the limit is checked before any run is looked at closely.
    await db.models.runs.collection.insertMany(
      Array.from({ length: MAX_RUNS_PER_MIGRATION }, (_, index) => ({
        workflow_run_id: newId('run'),
        user_id: run.user_id,
        workflow_template_id: template?.workflow_template_id,
        status: 'awaiting_input',
        current_version_id: v1,
        project_name: 'bulk',
        created_at: new Date(now - index),
      })),
    );
    const tooMany = await refused({ to_version_id: v2, policy: 'continue_with_new' });
    expect(tooMany.status).toBe(409);
    expect(tooMany.error.message).toContain('narrow it');
    // Narrowed by project, the same request is taken.
    const narrowed = await owner.request('/v1/templates/input_posts/migrations', {
      method: 'POST',
      json: {
        to_version_id: v2,
        policy: 'continue_with_new',
        dry_run: true,
        filter: { project_name: 'test' },
      },
    });
    expect(narrowed.status).toBe(200);
  }, 120_000);
});
