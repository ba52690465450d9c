import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { describe, expect, it } from 'vitest';
import { newId } from '@stepwise/shared';
import { insertArtifactRecord, uploadToBucket } from '@stepwise/shared/node';
import { useTestDatabases } from './support/databases.js';
import { logRecord, startServiceProcess } from './support/processes.js';

const db = await useTestDatabases('artifact_streaming');
const adminToken = 'artifact-streaming-admin-token';

function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
  return Number(kb) * 1024;
}

describe('artifact downloads', () => {
  it('stream a 50 MB artifact without the gateway holding it in memory', async () => {
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
    const created = (await (
      await fetch(`${base}/v1/admin/users`, {
        method: 'POST',
        headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'big', email: 'big@example.com' }),
      })
    ).json()) as { user: { user_id: string }; api_key: string };

    /** Stores an artifact of `size` random bytes, downloads it, and returns the gateway's RSS growth. */
    async function streamOnce(size: number) {
      const bytes = randomBytes(size);
      const sha256 = createHash('sha256').update(bytes).digest('hex');
      const fileId = await uploadToBucket(db.mongo, 'artifacts', 'big.bin', bytes, {});
      const artifactId = newId('artifact');
      await insertArtifactRecord(db.models, {
        artifact_id: artifactId,
        workflow_run_id: newId('run'),
        user_id: created.user.user_id,
        branch_id: newId('branch'),
        event_id: null,
        step_id: 's',
        module_name: 'm',
        kind: 'deliverable',
        name: 'big.bin',
        content_type: 'application/octet-stream',
        size,
        sha256,
        file_id: fileId,
        created_at: new Date(),
      });
      await (await fetch(`${base}/healthz`)).text();
      const baseline = rssBytes(pid);
      let peak = baseline;
      const sampler = setInterval(() => (peak = Math.max(peak, rssBytes(pid))), 20);
      const received = await new Promise<{
        status: number;
        length: string | undefined;
        etag: string | undefined;
        sha256: string;
        bytes: number;
      }>((resolve, reject) => {
        const hash = createHash('sha256');
        let count = 0;
        request(
          `${base}/v1/artifacts/${artifactId}/content`,
          { headers: { authorization: `Bearer ${created.api_key}` } },
          (res) => {
            res.on('data', (chunk: Buffer) => {
              hash.update(chunk);
              count += chunk.length;
            });
            res.on('end', () =>
              resolve({
                status: res.statusCode ?? 0,
                length: res.headers['content-length'],
                etag: res.headers.etag,
                sha256: hash.digest('hex'),
                bytes: count,
              }),
            );
            res.on('error', reject);
          },
        )
          .on('error', reject)
          .end();
      });
      clearInterval(sampler);
      expect(received).toEqual({
        status: 200,
        length: String(size),
        etag: `"${sha256}"`,
        sha256,
        bytes: size,
      });
      const growth = peak - baseline;
      console.log(
        `gateway RSS while streaming ${size / 2 ** 20} MiB: baseline ${(baseline / 2 ** 20).toFixed(1)} MiB, peak ${(peak / 2 ** 20).toFixed(1)} MiB, growth ${(growth / 2 ** 20).toFixed(1)} MiB`,
      );
      return { growth, artifactId };
    }

    const MiB = 2 ** 20;
    const fifty = await streamOnce(50 * MiB);
    expect(fifty.growth).toBeLessThan(50 * MiB);
    // The proof that nothing is buffered: three times the bytes, (nearly) the same growth. What
    // growth there is is the allocator's and the garbage collector's slack.
    const hundredFifty = await streamOnce(150 * MiB);
    expect(hundredFifty.growth - fifty.growth).toBeLessThan(25 * MiB);
    const artifactId = fifty.artifactId;

    // Another user's artifact is not found.
    const other = (await (
      await fetch(`${base}/v1/admin/users`, {
        method: 'POST',
        headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'other', email: 'other@example.com' }),
      })
    ).json()) as { api_key: string };
    expect(
      (
        await fetch(`${base}/v1/artifacts/${artifactId}/content`, {
          headers: { authorization: `Bearer ${other.api_key}` },
        })
      ).status,
    ).toBe(404);
    gateway.child.kill('SIGTERM');
    expect(await gateway.exited).toBe(0);
  }, 60_000);
});
