import { describe, expect, it } from 'vitest';
import type { RunView } from '@stepwise/shared';
import { useTestDatabases } from './support/databases.js';
import { startTestResolver } from './support/gateway.js';
import {
  chunksOf,
  fileQuestionWorkflow,
  pngImage,
  postRaw,
  rssBytes,
  storedArtifacts,
} from './support/media.js';
import { logRecord, startServiceProcess } from './support/processes.js';
import { startTestRunner } from './support/runner.js';

/**
 * An upload is streamed, never held (media.md): a 200 MB body sent chunked (no length to refuse it
 * by) against an 8 MiB question is cut off at the limit, with the gateway process's memory growing
 * by less than 32 MiB, and nothing stored. The gateway runs as its own process (the built one) so
 * that its memory is its own; the resolver and runner work in this one on the same stores.
 */
const db = await useTestDatabases('media_upload_memory');
await startTestResolver(db);
await startTestRunner(db);
const adminToken = 'media-upload-memory-admin-token';
const MiB = 1024 * 1024;

describe('a huge upload against a limit', () => {
  it('is refused at the limit without the gateway holding it', async () => {
    const gateway = startServiceProcess('gateway', {
      MONGO_URL: db.mongoUrl,
      REDIS_URL: db.redisUrl,
      QUEUE_PREFIX: db.queuePrefix,
      ADMIN_TOKEN: adminToken,
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'info',
    });
    const port = Number(
      logRecord(await gateway.waitForLine((line) => line.includes('gateway listening')))?.['port'],
    );
    const pid = gateway.child.pid ?? 0;
    const base = `http://127.0.0.1:${port}`;
    const call = async (path: string, token: string, body?: unknown) => {
      const response = await fetch(`${base}${path}`, {
        method: body === undefined ? 'GET' : 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    };
    const user = await call('/v1/admin/users', adminToken, {
      username: 'uploader',
      email: 'uploader@example.com',
    });
    const token = String(user.body['api_key']);
    const submitted = await call(
      '/v1/workflows',
      token,
      fileQuestionWorkflow('huge', { max_bytes: 8 * MiB }),
    );
    expect(submitted.status, JSON.stringify(submitted.body)).toBe(201);
    const small = await call(
      '/v1/workflows',
      token,
      fileQuestionWorkflow('small', { max_bytes: MiB }),
    );
    const uploadUrlOf = async (versionId: unknown) => {
      const started = await call('/v1/runs?wait_ms=20000', token, {
        project_name: 'test',
        workflow_version_id: versionId,
      });
      const run = started.body as unknown as RunView;
      expect(run.status, JSON.stringify(run)).toBe('awaiting_input');
      return `${base}/v1/runs/${run.workflow_run_id}/uploads?name=huge.png`;
    };
    const uploadUrl = await uploadUrlOf(submitted.body['workflow_version_id']);
    const png = await pngImage(64, 64);

    // Warm the route's code paths (file-type, GridFS, a refusal and its cleanup, on a question
    // of 1 MiB) so that the baseline is the steady state, not the first use of each: two uploads
    // of 6 MiB let the young generation reach the size it keeps (as the artifact-streaming test
    // warms up before it measures), so what is measured is what the upload itself holds.
    for (let i = 0; i < 2; i++) {
      const warm = await postRaw(uploadUrl, {
        token,
        headers: { 'content-type': 'image/png' },
        body: chunksOf(png, 64 * 1024, 96),
      });
      expect(warm.status, warm.body.toString()).toBe(201);
    }
    const refusedWarm = await postRaw(await uploadUrlOf(small.body['workflow_version_id']), {
      token,
      headers: { 'content-type': 'image/png' },
      body: chunksOf(png, 64 * 1024, 48),
    });
    expect(refusedWarm.status ?? 413).toBe(413);

    const before = await storedArtifacts(db);
    await (await fetch(`${base}/healthz`)).text();
    const baseline = rssBytes(pid);
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, rssBytes(pid))), 20);
    const total = 200 * 1000 * 1000;
    const chunk = 64 * 1024;
    const answer = await postRaw(uploadUrl, {
      token,
      headers: { 'content-type': 'image/png' },
      body: chunksOf(png, chunk, Math.ceil(total / chunk)),
    });
    clearInterval(sampler);
    const growth = peak - baseline;
    console.log(
      `gateway RSS during a refused 200 MB upload: baseline ${(baseline / MiB).toFixed(1)} MiB, peak ${(peak / MiB).toFixed(1)} MiB, growth ${(growth / MiB).toFixed(1)} MiB; ${(answer.sent / MiB).toFixed(1)} MiB sent before the answer (${answer.status ?? answer.error})`,
    );
    // The answer (or, if the close won the race, a reset) came long before the end of the body.
    if (answer.status !== undefined) {
      expect(answer.status, answer.body.toString()).toBe(413);
      expect(answer.body.toString()).toContain('PAYLOAD_TOO_LARGE');
    } else expect(answer.error).toMatch(/ECONNRESET|EPIPE|socket hang up/);
    expect(answer.sent).toBeLessThan(64 * MiB);
    expect(growth).toBeLessThan(32 * MiB);
    expect(await storedArtifacts(db)).toEqual(before);

    // The gateway goes on serving, and stops cleanly.
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    gateway.child.kill('SIGTERM');
    expect(await gateway.exited).toBe(0);
  }, 120_000);
});
