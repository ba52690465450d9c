import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ArtifactView, RunView } from '@stepwise/shared';
import { useTestDatabases } from './support/databases.js';
import { createTestUser, startTestGateway, startTestResolver } from './support/gateway.js';
import {
  chunksOf,
  fileQuestionWorkflow,
  gifImage,
  jpegImage,
  pngImage,
  postRaw,
  sha256,
  startWaitingRun,
  storedArtifacts,
  type RawAnswer,
} from './support/media.js';
import { startTestRunner } from './support/runner.js';
import { RunsClient } from './support/runs.js';

/**
 * `user.file_input` end to end (media.md, docs/media.md): a person uploads files to the run's
 * pending question (`POST /v1/runs/{id}/uploads`, checked by their bytes and size, streamed into
 * GridFS), answers with the artifact ids, and the run goes on with them in its state. Every
 * refusal leaves storage as it was.
 */
const db = await useTestDatabases('media_uploads');
const gateway = await startTestGateway(db);
await startTestResolver(db);
await startTestRunner(db);

const MiB = 1024 * 1024;
let alice: RunsClient;
let bob: RunsClient;
let photoVersion: string;
let bobVersion: string;

beforeAll(async () => {
  alice = new RunsClient(gateway, (await createTestUser(gateway, 'alice')).api_key);
  bob = new RunsClient(gateway, (await createTestUser(gateway, 'bob')).api_key);
  photoVersion = await alice.submitJson(fileQuestionWorkflow('photos', { max_bytes: MiB }));
  bobVersion = await bob.submitJson(fileQuestionWorkflow('photos', { max_bytes: MiB }));
});

function upload(
  client: RunsClient,
  runId: string,
  bytes: Buffer,
  options: { name?: string; type?: string; query?: string } = {},
): Promise<RawAnswer> {
  const query = options.query ?? `?name=${encodeURIComponent(options.name ?? 'photo.png')}`;
  return postRaw(`${gateway.url}/v1/runs/${runId}/uploads${query}`, {
    token: client.token,
    headers: { 'content-type': options.type ?? 'image/png' },
    contentLength: bytes.length,
    body: [bytes],
  });
}

function json<T>(answer: RawAnswer): T {
  return JSON.parse(answer.body.toString('utf8')) as T;
}

async function uploaded(client: RunsClient, runId: string, bytes: Buffer, name = 'photo.png') {
  const answer = await upload(client, runId, bytes, { name });
  expect(answer.status, answer.body.toString()).toBe(201);
  return json<ArtifactView>(answer);
}

type Envelope = { error: { code: string; message: string; details?: unknown } };

/** Answers the file question with `ids`, expecting a 422 that names `message`; the run is unchanged. */
async function expectAnswerRefused(run: RunView, ids: unknown[], message: RegExp) {
  const before = await alice.get(run.workflow_run_id);
  const { status, body } = await alice.answer(
    run.workflow_run_id,
    run.pending_interaction?.interaction_id ?? '',
    { artifact_ids: ids },
  );
  expect(status, JSON.stringify(body)).toBe(422);
  const { error } = body as unknown as Envelope;
  expect(error.code).toBe('INTERACTION_INVALID');
  expect(JSON.stringify(error.details)).toMatch(message);
  const after = await alice.get(run.workflow_run_id);
  expect(after.status).toBe('awaiting_input');
  expect(after.last_seq).toBe(before.last_seq);
  expect(after.pending_interaction).toEqual(before.pending_interaction);
}

describe('a person uploads files for a user.file_input question', () => {
  it('asks with the declared request', async () => {
    const run = await startWaitingRun(alice, photoVersion);
    expect(run.pending_interaction?.module_id).toBe('user.file_input');
    expect(run.pending_interaction?.request).toEqual({
      prompt: 'Your photos',
      accept: ['image/png', 'image/jpeg'],
      max_bytes: MiB,
      min_files: 1,
      max_files: 2,
    });
  });

  it('stores a PNG, takes the answer, and the run goes on with its id', async () => {
    const run = await startWaitingRun(alice, photoVersion);
    const png = await pngImage(800, 600);
    const before = await storedArtifacts(db);
    // The declared type is only what the client guessed; the stored one is read from the bytes.
    const answer = await upload(alice, run.workflow_run_id, png, {
      name: 'holiday.png',
      type: 'application/octet-stream',
    });
    expect(answer.status, answer.body.toString()).toBe(201);
    const artifact = json<ArtifactView>(answer);
    expect(artifact).toMatchObject({
      workflow_run_id: run.workflow_run_id,
      branch_id: run.active_branch_id,
      event_id: null,
      step_id: 'photo',
      module_name: 'photos',
      kind: 'upload',
      name: 'holiday.png',
      content_type: 'image/png',
      size: png.length,
      sha256: sha256(png),
    });
    expect(await storedArtifacts(db)).toMatchObject({
      rows: before.rows + 1,
      files: before.files + 1,
    });

    const after = await alice.answerPending(run, { artifact_ids: [artifact.artifact_id] });
    expect(after.status).toBe('awaiting_input');
    expect(after.pending_interaction?.module_id).toBe('user.confirm');
    const { state } = await alice.state(run.workflow_run_id);
    expect(state['photo_ids']).toEqual([artifact.artifact_id]);
    expect(state['photos']).toEqual([
      {
        artifact_id: artifact.artifact_id,
        name: 'holiday.png',
        content_type: 'image/png',
        size: png.length,
        sha256: sha256(png),
      },
    ]);
    const completed = (await alice.events(run.workflow_run_id)).find(
      (event) => event.event_type === 'module_completed' && event.module_name === 'photos',
    );
    expect(completed?.data['outputs']).toMatchObject({ artifact_ids: [artifact.artifact_id] });

    // The bytes come back as they went in; the preview is a WebP no larger than 512 px.
    const content = await alice.request(`/v1/artifacts/${artifact.artifact_id}/content`);
    expect(content.status).toBe(200);
    expect(content.headers.get('content-type')).toBe('image/png');
    expect(sha256(Buffer.from(await content.arrayBuffer()))).toBe(sha256(png));
    const preview = await alice.request(`/v1/artifacts/${artifact.artifact_id}/preview`);
    expect(preview.status).toBe(200);
    expect(preview.headers.get('content-type')).toBe('image/webp');
    const metadata = await sharp(Buffer.from(await preview.arrayBuffer())).metadata();
    expect(metadata).toMatchObject({ format: 'webp', width: 512, height: 384 });

    // The run's uploads are listed among its artifacts.
    const listed = await alice.request(`/v1/runs/${run.workflow_run_id}/artifacts`);
    const { items } = (await listed.json()) as { items: ArtifactView[] };
    expect(items.map((item) => item.artifact_id)).toContain(artifact.artifact_id);
  });

  it('takes up to max_files, in the order given, of any accepted type', async () => {
    const run = await startWaitingRun(alice, photoVersion);
    const jpeg = await uploaded(alice, run.workflow_run_id, await jpegImage(64, 64), 'a.jpg');
    const png = await uploaded(alice, run.workflow_run_id, await pngImage(32, 32), 'b.png');
    expect(jpeg.content_type).toBe('image/jpeg');
    await alice.answerPending(run, { artifact_ids: [png.artifact_id, jpeg.artifact_id] });
    const { state } = await alice.state(run.workflow_run_id);
    expect(state['photo_ids']).toEqual([png.artifact_id, jpeg.artifact_id]);
  });

  it('names the file by its type when no name is given', async () => {
    const run = await startWaitingRun(alice, photoVersion);
    const answer = await upload(alice, run.workflow_run_id, await jpegImage(16, 16), {
      query: '',
    });
    expect(answer.status).toBe(201);
    expect(json<ArtifactView>(answer).name).toBe('upload.jpg');
  });
});

describe('refused uploads store nothing', () => {
  let run: RunView;
  beforeAll(async () => {
    run = await startWaitingRun(alice, photoVersion);
  });

  async function expectRefused(send: () => Promise<RawAnswer>, status: number, code: string) {
    const before = await storedArtifacts(db);
    const answer = await send();
    // The server may close the connection on a body it will not read; the answer comes first.
    expect(answer.status, `${answer.error ?? ''} ${answer.body.toString()}`).toBe(status);
    const { error } = json<Envelope>(answer);
    expect(error.code).toBe(code);
    expect(await storedArtifacts(db)).toEqual(before);
    return error.message;
  }

  it('refuses a text file sent as image/png, by its bytes: 415', async () => {
    const text = Buffer.from('This is not a picture at all.\n'.repeat(400));
    const message = await expectRefused(
      () => upload(alice, run.workflow_run_id, text, { type: 'image/png', name: 'fake.png' }),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    );
    expect(message).toMatch(/could not be recognised/);
    expect(message).toContain('image/png, image/jpeg');
  });

  it('refuses an image of a type the question does not accept, naming it: 415', async () => {
    const gif = await gifImage(40, 40);
    const message = await expectRefused(
      () => upload(alice, run.workflow_run_id, gif, { type: 'image/png' }),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    );
    expect(message).toMatch(/is image\/gif.*accepts image\/png, image\/jpeg/);
  });

  it('refuses an empty body: 400', async () => {
    const message = await expectRefused(
      () => upload(alice, run.workflow_run_id, Buffer.alloc(0)),
      400,
      'BAD_REQUEST',
    );
    expect(message).toMatch(/empty/);
  });

  it('refuses a declared length over the limit at once, before any byte: 413', async () => {
    const message = await expectRefused(
      () =>
        postRaw(`${gateway.url}/v1/runs/${run.workflow_run_id}/uploads?name=big.png`, {
          token: alice.token,
          headers: { 'content-type': 'image/png' },
          contentLength: MiB + 1,
        }),
      413,
      'PAYLOAD_TOO_LARGE',
    );
    expect(message).toContain(String(MiB));
  });

  it('cuts off a chunked body that grows past the limit, deleting what was stored: 413', async () => {
    const png = await pngImage(64, 64);
    // 1.5 MiB against a 1 MiB limit: several GridFS chunks are written before the refusal.
    const answer = await (async () => {
      const before = await storedArtifacts(db);
      const sent = await postRaw(
        `${gateway.url}/v1/runs/${run.workflow_run_id}/uploads?name=long.png`,
        {
          token: alice.token,
          headers: { 'content-type': 'image/png' },
          body: chunksOf(png, 64 * 1024, 24),
        },
      );
      expect(await storedArtifacts(db)).toEqual(before);
      return sent;
    })();
    if (answer.status !== undefined) {
      expect(answer.status).toBe(413);
      expect(json<Envelope>(answer).error.code).toBe('PAYLOAD_TOO_LARGE');
    } else expect(answer.error).toMatch(/ECONNRESET|EPIPE|socket hang up/);
  });

  it('refuses uploads to a run that is not waiting on a file question: 409', async () => {
    const other = await startWaitingRun(alice, photoVersion);
    const png = await uploaded(alice, other.workflow_run_id, await pngImage(8, 8));
    await alice.answerPending(other, { artifact_ids: [png.artifact_id] });
    const message = await expectRefused(
      async () => upload(alice, other.workflow_run_id, await pngImage(8, 8)),
      409,
      'INTERACTION_NOT_PENDING',
    );
    expect(message).toMatch(/user\.confirm question, not on a user\.file_input/);
    // Nor to a question that is no longer the pending one.
    const stale = await expectRefused(
      async () =>
        upload(alice, run.workflow_run_id, await pngImage(8, 8), {
          query: `?interaction_id=int_${'0'.repeat(24)}`,
        }),
      409,
      'INTERACTION_NOT_PENDING',
    );
    expect(stale).toContain(run.pending_interaction?.interaction_id ?? '?');
  });

  it('does not let another tenant upload to a run: 404', async () => {
    await expectRefused(
      async () => upload(bob, run.workflow_run_id, await pngImage(8, 8)),
      404,
      'NOT_FOUND',
    );
  });
});

describe('answers are checked against what was uploaded', () => {
  let run: RunView;
  let mine: ArtifactView;
  let second: ArtifactView;
  beforeAll(async () => {
    run = await startWaitingRun(alice, photoVersion);
    mine = await uploaded(alice, run.workflow_run_id, await pngImage(10, 10));
    second = await uploaded(alice, run.workflow_run_id, await pngImage(11, 11));
  });

  it("refuses another run's upload", async () => {
    const otherRun = await startWaitingRun(alice, photoVersion);
    const theirs = await uploaded(alice, otherRun.workflow_run_id, await pngImage(12, 12));
    await expectAnswerRefused(run, [theirs.artifact_id], /not a file uploaded to this run/);
  });

  it("refuses another tenant's upload, as if it did not exist", async () => {
    const bobRun = await startWaitingRun(bob, bobVersion);
    const bobs = await uploaded(bob, bobRun.workflow_run_id, await pngImage(13, 13));
    await expectAnswerRefused(run, [bobs.artifact_id], /not a file uploaded to this run/);
  });

  it('refuses a repeated id, too many, too few, or a malformed one', async () => {
    await expectAnswerRefused(run, [mine.artifact_id, mine.artifact_id], /must not repeat/);
    const third = await uploaded(alice, run.workflow_run_id, await pngImage(14, 14));
    await expectAnswerRefused(
      run,
      [mine.artifact_id, second.artifact_id, third.artifact_id],
      /between 1 and 2 files \(got 3\)/,
    );
    await expectAnswerRefused(run, [], /between 1 and 2 files \(got 0\)/);
    await expectAnswerRefused(run, ['not-an-id'], /art_/);
  });

  it('refuses an artifact the run saved itself (not an upload)', async () => {
    const versionId = await alice.submitJson({
      workflow_id: 'saves_then_asks',
      initial_state: {},
      steps: [
        {
          step_id: 'photo',
          modules: [
            {
              module_id: 'artifact.save',
              name: 'note',
              inputs: { name: 'note.txt', content: 'hello', content_type: 'text/plain' },
              outputs_to_state: { artifact_id: 'note_id' },
            },
            {
              module_id: 'user.file_input',
              name: 'photos',
              inputs: { prompt: 'A photo', accept: ['image/*'] },
            },
          ],
        },
      ],
    });
    const saving = await startWaitingRun(alice, versionId);
    const { state } = await alice.state(saving.workflow_run_id);
    const before = await alice.get(saving.workflow_run_id);
    const { status, body } = await alice.answer(
      saving.workflow_run_id,
      saving.pending_interaction?.interaction_id ?? '',
      { artifact_ids: [state['note_id']] },
    );
    expect(status).toBe(422);
    expect(JSON.stringify((body as unknown as Envelope).error.details)).toMatch(
      /not a file uploaded to this run/,
    );
    expect((await alice.get(saving.workflow_run_id)).last_seq).toBe(before.last_seq);
  });

  it('still takes a valid answer after the refusals', async () => {
    const after = await alice.answerPending(run, {
      artifact_ids: [second.artifact_id, mine.artifact_id],
    });
    expect(after.pending_interaction?.module_id).toBe('user.confirm');
  });
});
