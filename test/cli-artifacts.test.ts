import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { useTestDatabases } from './support/databases.js';
import { createTestUser, startTestGateway, startTestResolver } from './support/gateway.js';
import { startTestRunner } from './support/runner.js';
import { RunsClient } from './support/runs.js';
import { useStubProviders } from './support/stub-providers.js';
import { TestTerminal } from './support/terminal.js';

/**
 * `stepwise artifacts list|download` and the terminal prompt of `user.file_input`, driven in a
 * real terminal against a running server (like test/cli.test.ts). The terminal works in a
 * folder of its own, where downloads land.
 */
const db = await useTestDatabases('cli_artifacts');
const gateway = await startTestGateway(db);
await startTestResolver(db);
await startTestRunner(db, { allowedHosts: ['127.0.0.1'] });
const stubs = await useStubProviders({ pollsToFinish: 3 });

const root = new URL('../', import.meta.url).pathname;
const configDir = mkdtempSync(join(tmpdir(), 'stepwise-cli-artifacts-config-'));
const workDir = mkdtempSync(join(tmpdir(), 'stepwise-cli-artifacts-'));
const terminal = new TestTerminal(workDir, { STEPWISE_CONFIG_DIR: configDir, NO_COLOR: '1' });
const stepwise = `node ${root}packages/cli/dist/main.js`;

const notes = 'hello notes\n';
const sha256 = (bytes: string | Buffer) => createHash('sha256').update(bytes).digest('hex');

let client: RunsClient;
beforeAll(async () => {
  const { api_key: apiKey } = await createTestUser(gateway, 'archivist');
  client = new RunsClient(gateway, apiKey);
  terminal.type(`${stepwise} login --server ${gateway.url} --key ${apiKey}`);
  await terminal.waitFor(/Logged in to .* as archivist/);
});

describe('stepwise artifacts', () => {
  let runId = '';
  let notesId = '';
  let pictureId = '';
  const picture = sharp({
    create: { width: 40, height: 30, channels: 3, background: { r: 10, g: 90, b: 200 } },
  })
    .png()
    .toBuffer();

  it("lists a run's artifacts as a table", async () => {
    const versionId = await client.submitJson({
      workflow_id: 'cli_artifacts',
      steps: [
        {
          step_id: 'save',
          modules: [
            {
              module_id: 'artifact.save',
              name: 'save_notes',
              inputs: { name: 'notes.txt', content: notes },
              outputs_to_state: { artifact_id: 'notes_id' },
            },
            {
              module_id: 'artifact.save',
              name: 'save_picture',
              inputs: {
                name: 'pictures/blue.png',
                content: (await picture).toString('base64'),
                encoding: 'base64',
                content_type: 'image/png',
              },
              outputs_to_state: { artifact_id: 'picture_id' },
            },
          ],
        },
      ],
    });
    const { run } = await client.start({ workflow_version_id: versionId }, '?wait_ms=20000');
    expect(run.status).toBe('completed');
    runId = run.workflow_run_id;
    const { state } = await client.state(runId);
    notesId = String(state['notes_id']);
    pictureId = String(state['picture_id']);

    terminal.clear();
    terminal.type(`${stepwise} artifacts list ${runId}`);
    await terminal.waitFor(/ID\s+NAME\s+TYPE\s+SIZE\s+STEP\.MODULE\s+CREATED/);
    const screen = terminal.screen();
    expect(screen).toMatch(
      new RegExp(
        `${notesId}\\s+notes\\.txt\\s+text/plain\\s+12 B\\s+save\\.save_notes\\s+\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\dZ`,
      ),
    );
    expect(screen).toMatch(
      new RegExp(
        `${pictureId}\\s+pictures/blue\\.png\\s+image/png\\s+\\d+ B\\s+save\\.save_picture`,
      ),
    );
    // Oldest first.
    expect(screen.indexOf(notesId)).toBeLessThan(screen.indexOf(pictureId));

    const { run: empty } = await client.start(
      {
        workflow_version_id: await client.submitJson({
          workflow_id: 'cli_no_artifacts',
          steps: [
            {
              step_id: 's',
              modules: [{ module_id: 'transform.set', name: 'x', inputs: { value: 1 } }],
            },
          ],
        }),
      },
      '?wait_ms=20000',
    );
    terminal.type(`${stepwise} artifacts list ${empty.workflow_run_id}`);
    await terminal.waitFor(new RegExp(`${empty.workflow_run_id} has no artifacts`));
  }, 30_000);

  it('downloads an artifact under its name, checks its sha256, and overwrites only with --force', async () => {
    terminal.clear();
    terminal.type(`${stepwise} artifacts download ${notesId}`);
    await terminal.waitFor(/saved \S+notes\.txt \(12 B\)/);
    await terminal.waitFor(new RegExp(`sha256 ${sha256(notes)} \\(matches the artifact\\)`));
    expect(readFileSync(join(workDir, 'notes.txt'), 'utf8')).toBe(notes);

    // Not over an existing file…
    writeFileSync(join(workDir, 'notes.txt'), 'mine, keep it');
    terminal.clear();
    terminal.type(`${stepwise} artifacts download ${notesId}`);
    await terminal.waitFor(/error FILE_EXISTS: \S+notes\.txt exists; use --force to overwrite it/);
    expect(readFileSync(join(workDir, 'notes.txt'), 'utf8')).toBe('mine, keep it');
    // …unless forced.
    terminal.type(`${stepwise} artifacts download ${notesId} --force`);
    await terminal.waitFor(/saved \S+notes\.txt \(12 B\)/);
    expect(readFileSync(join(workDir, 'notes.txt'), 'utf8')).toBe(notes);

    // A name with folders is saved as its last part; --out names the file.
    terminal.clear();
    terminal.type(`${stepwise} artifacts download ${pictureId}`);
    await terminal.waitFor(/saved \S+\/blue\.png/);
    const bytes = await picture;
    expect(readFileSync(join(workDir, 'blue.png')).equals(bytes)).toBe(true);
    await terminal.waitFor(new RegExp(`sha256 ${sha256(bytes)} \\(matches the artifact\\)`));
    terminal.type(`${stepwise} artifacts download ${pictureId} --out poster.png`);
    await terminal.waitFor(/saved \S+\/poster\.png/);
    expect(readFileSync(join(workDir, 'poster.png')).equals(bytes)).toBe(true);
    // No partial file is left behind.
    expect(readdirSync(workDir).filter((name) => name.endsWith('.part'))).toEqual([]);

    terminal.clear();
    terminal.type(`${stepwise} artifacts download art_${'0'.repeat(24)}`);
    await terminal.waitFor(/error NOT_FOUND: /);
  }, 30_000);

  it('answers a file question by uploading files named in the terminal', async () => {
    const versionId = await client.submitJson({
      workflow_id: 'cli_file_input',
      steps: [
        {
          step_id: 'photos',
          modules: [
            {
              module_id: 'user.file_input',
              name: 'upload_photos',
              inputs: {
                prompt: 'Which photos should we use?',
                accept: ['image/png'],
                max_bytes: 100_000,
                min_files: 1,
                max_files: 2,
              },
              outputs_to_state: { artifact_ids: 'photo_ids' },
            },
          ],
        },
      ],
    });
    const { run } = await client.start({ workflow_version_id: versionId }, '?wait_ms=20000');
    expect(run.status).toBe('awaiting_input');
    writeFileSync(join(workDir, 'upload.png'), await picture);
    writeFileSync(join(workDir, 'fake.png'), 'not a picture at all\n');
    writeFileSync(join(workDir, 'huge.png'), Buffer.alloc(100_001));

    terminal.clear();
    terminal.type(`${stepwise} answer ${run.workflow_run_id}`);
    await terminal.waitFor(/Which photos should we use\?\n\s+accepted: image\/png; 1 to 2 files/);
    // Checked before sending: a missing file, a file over the size limit.
    terminal.type('missing.png');
    await terminal.waitFor(/no such file/);
    terminal.press('C-u');
    terminal.type('huge.png');
    await terminal.waitFor(/it is 100001 bytes; at most 100000 bytes are accepted/);
    terminal.press('C-u');
    // Refused by the server, which reads the bytes: said, and asked again.
    terminal.type('fake.png');
    await terminal.waitFor(/not accepted: \S/);
    terminal.type('upload.png');
    await terminal.waitFor(/uploaded upload\.png: art_\w+ \(image\/png, /);
    await terminal.waitFor(/File 2 of 2 \(path, or Enter to finish\)/);
    terminal.press('Enter');
    await terminal.waitFor(new RegExp(`${run.workflow_run_id}\\s+cli_file_input\\s+completed`));

    const { state } = await client.state(run.workflow_run_id);
    const ids = state['photo_ids'] as string[];
    expect(ids).toHaveLength(1);
    const stored = await client.request(`/v1/artifacts/${ids[0]}/content`);
    expect(Buffer.from(await stored.arrayBuffer()).equals(await picture)).toBe(true);
  }, 45_000);

  it('follows a run that works on between questions (an image being made) and asks the next', async () => {
    const versionId = await client.submitJson({
      workflow_id: 'cli_follow',
      steps: [
        {
          step_id: 'go',
          modules: [{ module_id: 'user.confirm', name: 'start', inputs: { message: 'Make it?' } }],
        },
        {
          step_id: 'make',
          modules: [
            {
              module_id: 'api.job',
              name: 'image',
              inputs: {
                submit: { url: `${stubs.imagesBaseUrl}/jobs`, body: { prompt: 'a kite' } },
                job_id_path: '$.id',
                status: { url: `${stubs.imagesBaseUrl}/jobs/{job_id}` },
                result_path: '$.output[*]',
                poll: { initial_ms: 300, max_ms: 300, factor: 1 },
              },
              outputs_to_state: { artifact_ids: 'images' },
            },
          ],
        },
        {
          step_id: 'check',
          modules: [{ module_id: 'user.confirm', name: 'keep', inputs: { message: 'Keep it?' } }],
        },
      ],
    });
    const { run } = await client.start({ workflow_version_id: versionId }, '?wait_ms=20000');
    terminal.clear();
    terminal.type(`${stepwise} answer ${run.workflow_run_id}`);
    await terminal.waitFor(/Make it\?/);
    terminal.press('Enter');
    // The answer leaves the run polling its job: the CLI says so and waits, then asks again.
    await terminal.waitFor(/working at make\.image/);
    await terminal.waitFor(/Keep it\?/, 20_000);
    terminal.press('Enter');
    await terminal.waitFor(new RegExp(`${run.workflow_run_id}\\s+cli_follow\\s+completed`));
  }, 45_000);
});
