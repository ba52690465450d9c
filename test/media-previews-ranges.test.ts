import { randomBytes } from 'node:crypto';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { newId, type ArtifactDetail, type ArtifactView } from '@stepwise/shared';
import { insertArtifactRecord, uploadToBucket } from '@stepwise/shared/node';
import { useTestDatabases } from './support/databases.js';
import { createTestUser, startTestGateway, startTestResolver } from './support/gateway.js';
import {
  fileQuestionWorkflow,
  jpegImage,
  pngImage,
  postRaw,
  sha256,
  startWaitingRun,
  webmBytes,
} from './support/media.js';
import { startTestRunner } from './support/runner.js';
import { RunsClient } from './support/runs.js';

/**
 * Seeing media (media.md): an image artifact's WebP preview (512 px on the long side, made once
 * and cached), and an artifact's bytes by HTTP range so that audio and video can seek.
 */
const db = await useTestDatabases('media_previews_ranges');
const gateway = await startTestGateway(db);
await startTestResolver(db);
await startTestRunner(db);

let alice: RunsClient;
let bob: RunsClient;
let aliceId: string;
/** A 1000-byte WebM the workflow saved with artifact.save (base64). */
const clip = webmBytes(1000);
let clipId: string;

beforeAll(async () => {
  const created = await createTestUser(gateway, 'alice');
  aliceId = created.user.user_id;
  alice = new RunsClient(gateway, created.api_key);
  bob = new RunsClient(gateway, (await createTestUser(gateway, 'bob')).api_key);
  const versionId = await alice.submitJson({
    workflow_id: 'clip',
    initial_state: { clip: clip.toString('base64') },
    steps: [
      {
        step_id: 'save',
        modules: [
          {
            module_id: 'artifact.save',
            name: 'clip',
            inputs: {
              name: 'clip.webm',
              content: '{{ state.clip }}',
              encoding: 'base64',
              content_type: 'video/webm',
            },
            outputs_to_state: { artifact_id: 'clip_id' },
          },
        ],
      },
    ],
  });
  const { status, run } = await alice.start({ workflow_version_id: versionId }, '?wait_ms=20000');
  expect(status).toBe(201);
  expect(run.status, JSON.stringify(run.error)).toBe('completed');
  clipId = String((await alice.state(run.workflow_run_id)).state['clip_id']);
});

/** Stores `bytes` as an artifact of alice's, straight through the storage helpers. */
async function storeArtifact(bytes: Buffer, contentType: string, name = 'file.bin') {
  const artifactId = newId('artifact');
  const fileId = await uploadToBucket(db.mongo, 'artifacts', name, bytes, {});
  // As the services store one: the owner lookup with it (GET /v1/artifacts/{id} reads through it).
  await insertArtifactRecord(db.models, {
    artifact_id: artifactId,
    workflow_run_id: newId('run'),
    user_id: aliceId,
    branch_id: newId('branch'),
    event_id: null,
    step_id: 's',
    module_name: 'm',
    kind: 'deliverable',
    name,
    content_type: contentType,
    size: bytes.length,
    sha256: sha256(bytes),
    file_id: fileId,
    created_at: new Date(),
  });
  return artifactId;
}

async function ranged(artifactId: string, headers: Record<string, string>) {
  const response = await alice.request(`/v1/artifacts/${artifactId}/content`, { headers });
  return {
    status: response.status,
    headers: response.headers,
    bytes: Buffer.from(await response.arrayBuffer()),
  };
}

describe('range requests on an artifact’s bytes', () => {
  it('answers the whole bytes, saying ranges are accepted', async () => {
    const whole = await ranged(clipId, {});
    expect(whole.status).toBe(200);
    expect(whole.headers.get('accept-ranges')).toBe('bytes');
    expect(whole.headers.get('content-type')).toBe('video/webm');
    expect(whole.bytes.equals(clip)).toBe(true);
  });

  it('answers one range with 206 and exactly those bytes', async () => {
    const cases: [string, number, number][] = [
      ['bytes=0-99', 0, 99],
      ['bytes=100-', 100, 999],
      ['bytes=-10', 990, 999],
      ['bytes=990-5000', 990, 999],
      ['bytes=-5000', 0, 999],
      ['bytes=500-500', 500, 500],
    ];
    for (const [range, start, end] of cases) {
      const part = await ranged(clipId, { range });
      expect(part.status, range).toBe(206);
      expect(part.headers.get('content-range'), range).toBe(`bytes ${start}-${end}/1000`);
      expect(part.headers.get('content-length'), range).toBe(String(end - start + 1));
      expect(part.headers.get('accept-ranges')).toBe('bytes');
      expect(part.headers.get('etag')).toBe(`"${sha256(clip)}"`);
      expect(part.bytes.equals(clip.subarray(start, end + 1)), range).toBe(true);
    }
  });

  it('refuses a range past the end with 416 and the size', async () => {
    for (const range of ['bytes=1000-', 'bytes=5000-6000', 'bytes=-0']) {
      const refused = await ranged(clipId, { range });
      expect(refused.status, range).toBe(416);
      expect(refused.headers.get('content-range')).toBe('bytes */1000');
      const body = JSON.parse(refused.bytes.toString()) as { error: { code: string } };
      expect(body.error.code).toBe('RANGE_NOT_SATISFIABLE');
    }
  });

  it('answers the whole for several ranges, a header it does not understand, or another If-Range', async () => {
    const cases: Record<string, string>[] = [
      { range: 'bytes=0-1,5-6' },
      { range: 'bytes=abc' },
      { range: 'bytes=5-1' },
      { range: 'items=0-1' },
      { range: 'bytes=0-99', 'if-range': '"another-version"' },
      { range: 'bytes=0-99', 'if-range': 'Wed, 21 Oct 2015 07:28:00 GMT' },
    ];
    for (const headers of cases) {
      const whole = await ranged(clipId, headers);
      expect(whole.status, JSON.stringify(headers)).toBe(200);
      expect(whole.bytes.equals(clip)).toBe(true);
    }
    const current = await ranged(clipId, {
      range: 'bytes=0-99',
      'if-range': `"${sha256(clip)}"`,
    });
    expect(current.status).toBe(206);
  });

  it('answers 304 to a current copy, whatever the range', async () => {
    const etag = `"${sha256(clip)}"`;
    const notModified = await ranged(clipId, { 'if-none-match': etag, range: 'bytes=5000-' });
    expect(notModified.status).toBe(304);
    expect(notModified.headers.get('etag')).toBe(etag);
  });

  it('reads only the GridFS chunks a range needs, across chunk boundaries', async () => {
    // 1 MiB: four 255 KiB chunks and a remnant.
    const bytes = randomBytes(1024 * 1024);
    const artifactId = await storeArtifact(bytes, 'audio/mpeg', 'song.mp3');
    for (const [start, end] of [
      [0, 261_119],
      [261_120, 261_120],
      [200_000, 800_000],
      [1_044_480, 1_048_575],
      [261_119, 522_240],
    ] as const) {
      const part = await ranged(artifactId, { range: `bytes=${start}-${end}` });
      expect(part.status).toBe(206);
      expect(part.bytes.length).toBe(end - start + 1);
      expect(part.bytes.equals(bytes.subarray(start, end + 1)), `${start}-${end}`).toBe(true);
    }
  });

  it('serves an uploaded file by range too', async () => {
    const versionId = await alice.submitJson(fileQuestionWorkflow('ranged_upload'));
    const run = await startWaitingRun(alice, versionId);
    const png = await pngImage(300, 200);
    const answer = await postRaw(`${gateway.url}/v1/runs/${run.workflow_run_id}/uploads`, {
      token: alice.token,
      headers: { 'content-type': 'image/png' },
      contentLength: png.length,
      body: [png],
    });
    expect(answer.status).toBe(201);
    const { artifact_id } = JSON.parse(answer.body.toString()) as ArtifactView;
    const part = await ranged(artifact_id, { range: 'bytes=0-7' });
    expect(part.status).toBe(206);
    expect(part.bytes.equals(png.subarray(0, 8))).toBe(true);
  });

  it("is another tenant's 404", async () => {
    const response = await bob.request(`/v1/artifacts/${clipId}/content`, {
      headers: { range: 'bytes=0-9' },
    });
    expect(response.status).toBe(404);
  });
});

describe('image previews', () => {
  async function preview(artifactId: string, headers: Record<string, string> = {}) {
    const response = await alice.request(`/v1/artifacts/${artifactId}/preview`, { headers });
    return {
      status: response.status,
      headers: response.headers,
      bytes: Buffer.from(await response.arrayBuffer()),
    };
  }

  const previewFiles = async () =>
    (await db.mongo.db?.collection('previews.files').countDocuments({})) ?? -1;

  it('makes a WebP of at most 512 px on the long side, once, and caches it', async () => {
    const jpeg = await jpegImage(600, 2000);
    const artifactId = await storeArtifact(jpeg, 'image/jpeg', 'tall.jpg');
    const before = await previewFiles();
    const first = await preview(artifactId);
    expect(first.status).toBe(200);
    expect(first.headers.get('content-type')).toBe('image/webp');
    expect(first.headers.get('cache-control')).toBe('private, max-age=31536000, immutable');
    expect(first.headers.get('content-length')).toBe(String(first.bytes.length));
    expect(await sharp(first.bytes).metadata()).toMatchObject({
      format: 'webp',
      width: 154,
      height: 512,
    });
    expect(await previewFiles()).toBe(before + 1);

    // The same bytes again (another artifact of them, too) come from the cache.
    const second = await preview(artifactId);
    expect(second.bytes.equals(first.bytes)).toBe(true);
    const twin = await storeArtifact(jpeg, 'image/jpeg', 'twin.jpg');
    expect((await preview(twin)).bytes.equals(first.bytes)).toBe(true);
    expect(await previewFiles()).toBe(before + 1);

    const etag = first.headers.get('etag') ?? '';
    expect(etag).toMatch(/^"[0-9a-f]{64}\.512\.webp"$/);
    const current = await preview(artifactId, { 'if-none-match': etag });
    expect(current.status).toBe(304);
    expect(current.bytes.length).toBe(0);
  });

  it('never enlarges a small image', async () => {
    const artifactId = await storeArtifact(await pngImage(120, 80), 'image/png', 'small.png');
    const small = await preview(artifactId);
    expect(small.status).toBe(200);
    expect(await sharp(small.bytes).metadata()).toMatchObject({ width: 120, height: 80 });
  });

  it('is 404 for what is not an image, saying why, and says so in the metadata', async () => {
    const none = await preview(clipId);
    expect(none.status).toBe(404);
    const { error } = JSON.parse(none.bytes.toString()) as { error: { message: string } };
    expect(error.message).toMatch(/video\/webm.*previews are made of images/);
    const metadata = await alice.request(`/v1/artifacts/${clipId}`);
    expect(metadata.status).toBe(200);
    expect((await metadata.json()) as ArtifactDetail).toMatchObject({
      artifact_id: clipId,
      content_type: 'video/webm',
      size: 1000,
      content_url: `/v1/artifacts/${clipId}/content`,
      preview_url: null,
    });
  });

  it('is 404 for bytes that do not decode as the image they claim to be, leaving nothing', async () => {
    const artifactId = await storeArtifact(randomBytes(5000), 'image/png', 'broken.png');
    const before = await previewFiles();
    const broken = await preview(artifactId);
    expect(broken.status).toBe(404);
    expect(broken.bytes.toString()).toMatch(/could not be decoded as image\/png/);
    expect(await previewFiles()).toBe(before);
    // Nor any chunk of the preview that was being written when sharp gave up.
    const previews = db.mongo.db;
    if (!previews) throw new Error('not connected');
    const kept = await previews.collection('previews.files').distinct('_id');
    expect(
      await previews.collection('previews.chunks').countDocuments({ files_id: { $nin: kept } }),
    ).toBe(0);
  });

  it('gives an image’s metadata its preview path; another tenant gets 404', async () => {
    const artifactId = await storeArtifact(await pngImage(10, 10), 'image/png', 'dot.png');
    const metadata = (await (
      await alice.request(`/v1/artifacts/${artifactId}`)
    ).json()) as ArtifactDetail;
    expect(metadata.preview_url).toBe(`/v1/artifacts/${artifactId}/preview`);
    expect((await bob.request(`/v1/artifacts/${artifactId}`)).status).toBe(404);
    expect((await bob.request(`/v1/artifacts/${artifactId}/preview`)).status).toBe(404);
  });
});
