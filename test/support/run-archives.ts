import { createHash } from 'node:crypto';
import JSZip from 'jszip';
import { expect } from 'vitest';
import type { RunView } from '@stepwise/shared';
import { gridFsBuckets, type Models } from '@stepwise/shared/node';
import type { TestDatabases } from './databases.js';
import type { TestGateway } from './gateway.js';
import type { RunsClient } from './runs.js';

/** Helpers of the run export and import tests (test/run-archive.test.ts; docs/run-export.md). */

export const WAIT = 'wait_ms=20000';

export async function answer(
  client: RunsClient,
  run: RunView,
  response: unknown,
): Promise<RunView> {
  const reply = await client.request(
    `/v1/runs/${run.workflow_run_id}/interactions/${run.pending_interaction?.interaction_id ?? ''}?${WAIT}`,
    { method: 'POST', json: { response } },
  );
  expect(reply.status).toBe(200);
  return (await reply.json()) as RunView;
}

/** Everything the API shows of a run, artifacts' bytes included (as their sha256). */
export async function readBack(client: RunsClient, runId: string) {
  const run = await client.get(runId);
  const branchesReply = await client.request(`/v1/runs/${runId}/branches`);
  expect(branchesReply.status).toBe(200);
  const branches = ((await branchesReply.json()) as { items: { branch_id: string }[] }).items;
  const events: Record<string, unknown> = {};
  const states: Record<string, unknown> = {};
  for (const branch of branches) {
    events[branch.branch_id] = await client.events(runId, `branch_id=${branch.branch_id}`);
    states[branch.branch_id] = await client.state(runId, `?branch_id=${branch.branch_id}`);
  }
  const artifactsReply = await client.request(`/v1/runs/${runId}/artifacts`);
  const artifacts = ((await artifactsReply.json()) as { items: { artifact_id: string }[] }).items;
  const contents: Record<string, string> = {};
  for (const artifact of artifacts) {
    const content = await client.request(`/v1/artifacts/${artifact.artifact_id}/content`);
    expect(content.status).toBe(200);
    const bytes = Buffer.from(await content.arrayBuffer());
    contents[artifact.artifact_id] = createHash('sha256').update(bytes).digest('hex');
  }
  const usage = await (await client.request(`/v1/runs/${runId}/usage`)).json();
  return { run, branches, events, states, artifacts, contents, usage };
}

export async function exportArchive(client: RunsClient, runId: string): Promise<Buffer> {
  const reply = await client.request(`/v1/runs/${runId}/export`);
  expect(reply.status).toBe(200);
  expect(reply.headers.get('content-type')).toBe('application/zip');
  expect(reply.headers.get('content-disposition')).toBe(`attachment; filename="${runId}.zip"`);
  return Buffer.from(await reply.arrayBuffer());
}

export function importInto(
  gateway: TestGateway,
  bytes: Uint8Array,
  as: { token: string; userId?: string },
) {
  const path = as.userId ? `/v1/admin/users/${as.userId}/runs/import` : '/v1/runs/import';
  return gateway.request(path, {
    method: 'POST',
    token: as.token,
    headers: { 'content-type': 'application/zip' },
    body: bytes,
  });
}

export interface Imported {
  run_id: string;
  id_map: Record<string, string>;
}

/** How many documents (and GridFS files) each collection of a database holds. */
export async function countEverything(db: TestDatabases): Promise<Record<string, number>> {
  const models: Models = db.models;
  const counts: Record<string, number> = {};
  for (const [name, model] of Object.entries(models))
    counts[name] = await model.collection.countDocuments({});
  const mongoDb = db.mongo.db;
  if (!mongoDb) throw new Error('no database');
  for (const bucket of gridFsBuckets) {
    counts[`${bucket}.files`] = await mongoDb.collection(`${bucket}.files`).countDocuments({});
    counts[`${bucket}.chunks`] = await mongoDb.collection(`${bucket}.chunks`).countDocuments({});
  }
  return counts;
}

/** The archive with `edit` applied to its entries; the manifest's hashes follow when `rehash`. */
export async function alteredArchive(
  bytes: Uint8Array,
  edit: (entries: Map<string, Buffer>) => void,
  rehash: boolean,
): Promise<Buffer> {
  const zip = await JSZip.loadAsync(bytes);
  const entries = new Map<string, Buffer>();
  for (const file of Object.values(zip.files))
    if (!file.dir) entries.set(file.name, await file.async('nodebuffer'));
  edit(entries);
  if (rehash) {
    const manifest = JSON.parse(entries.get('manifest.json')?.toString('utf8') ?? '{}') as {
      entries: Record<string, string>;
    };
    manifest.entries = {};
    for (const [name, content] of entries)
      if (name !== 'manifest.json')
        manifest.entries[name] = createHash('sha256').update(content).digest('hex');
    entries.set('manifest.json', Buffer.from(JSON.stringify(manifest)));
  }
  const out = new JSZip();
  for (const [name, content] of entries) out.file(name, content);
  return out.generateAsync({ type: 'nodebuffer', compression: 'DEFLATE' });
}

export function editLines(
  entries: Map<string, Buffer>,
  name: string,
  edit: (records: Record<string, unknown>[]) => void,
) {
  const records = (entries.get(name)?.toString('utf8') ?? '')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  edit(records);
  entries.set(name, Buffer.from(records.map((record) => `${JSON.stringify(record)}\n`).join('')));
}
