import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import JSZip from 'jszip';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '@stepwise/shared';
import { IdRenamer, exportRunToFile, importRun } from '@stepwise/shared/node';
import { useTestDatabases, type TestDatabases } from './support/databases.js';
import {
  TEST_ADMIN_TOKEN,
  createTestUser,
  startTestGateway,
  startTestResolver,
  type TestGateway,
} from './support/gateway.js';
import { startTestRunner } from './support/runner.js';
import { RunsClient } from './support/runs.js';
import { chatCompletion, startFakeProvider } from './support/fake-provider.mjs';
import { webmBytes } from './support/media.js';
import {
  WAIT,
  alteredArchive,
  answer,
  countEverything,
  editLines,
  exportArchive,
  importInto,
  readBack,
  type Imported,
} from './support/run-archives.js';

/**
 * Run export and import (docs/run-export.md): a run with a fork, artifacts and usage is exported,
 * imported into a fresh database (its own gateway and runner), read back identically through the
 * API and branched from there; imported again into the same database for another user (ids
 * renamed, the source untouched); and every altered archive is refused, writing nothing.
 */

const provider = await startFakeProvider({
  // Each answer differs, so the fork's artifact has other bytes than the first one's.
  respond: (call) =>
    call.kind === 'chat' ? { body: chatCompletion(`draft number ${call.index}`) } : undefined,
});
afterAll(() => provider.close());

const workflow = {
  workflow_id: 'archived_clip',
  steps: [
    {
      step_id: 'attach',
      modules: [
        {
          module_id: 'user.file_input',
          name: 'clip',
          inputs: { prompt: 'The raw clip', accept: ['video/webm'] },
          outputs_to_state: { artifact_ids: 'clip_ids' },
        },
      ],
    },
    {
      step_id: 'ask',
      modules: [
        {
          module_id: 'user.text_input',
          name: 'topic',
          inputs: { prompt: 'What is the clip about?', max_length: 200 },
          outputs_to_state: { value: 'topic' },
        },
      ],
    },
    {
      step_id: 'work',
      modules: [
        {
          module_id: 'api.llm',
          name: 'draft',
          inputs: { model: 'gpt-4o-mini', prompt: 'A clip about {{ state.topic }}.' },
          outputs_to_state: { text: 'draft' },
        },
        {
          module_id: 'artifact.save',
          name: 'keep',
          inputs: { name: 'draft.txt', content: '{{ state.draft }}' },
          outputs_to_state: { artifact_id: 'draft_artifact' },
        },
      ],
    },
    {
      step_id: 'review',
      modules: [{ module_id: 'user.confirm', name: 'approve', inputs: { message: 'Publish?' } }],
    },
  ],
};

interface World {
  db: TestDatabases;
  gateway: TestGateway;
}

async function world(label: string): Promise<World> {
  const db = await useTestDatabases(label);
  const gateway = await startTestGateway(db);
  await startTestResolver(db);
  await startTestRunner(db, { llm: { baseUrl: provider.baseUrl } });
  return { db, gateway };
}

const source = await world('run_archive_source');
const target = await world('run_archive_target');
/** Fresh databases for the cases below that need one of their own. */
const raceDb = await useTestDatabases('run_archive_race');
const raceGateway = await startTestGateway(raceDb);
const halfwayDb = await useTestDatabases('run_archive_halfway');
const fileDb = await useTestDatabases('run_archive_file');

const aliceUser = await createTestUser(source.gateway, 'alice');
const alice = new RunsClient(source.gateway, aliceUser.api_key);
const mallory = new RunsClient(
  source.gateway,
  (await createTestUser(source.gateway, 'mallory')).api_key,
);
const bob = await createTestUser(source.gateway, 'bob');
const bobClient = new RunsClient(source.gateway, bob.api_key);
const carol = new RunsClient(
  target.gateway,
  (await createTestUser(target.gateway, 'carol')).api_key,
);

let sourceRunId = '';
let archive: Buffer = Buffer.alloc(0);
/** The same run earlier, waiting for its confirmation. */
let waitingArchive: Buffer = Buffer.alloc(0);

beforeAll(async () => {
  await alice.submitJson(workflow);
  const started = await alice.start(
    { workflow_template_name: 'archived_clip', project_name: 'cats' },
    `?${WAIT}`,
  );
  expect(started.status).toBe(201);
  // An upload of several GridFS chunks, so that export and import stream more than one.
  const uploaded = await alice.request(
    `/v1/runs/${started.run.workflow_run_id}/uploads?name=clip.webm`,
    { method: 'POST', headers: { 'content-type': 'video/webm' }, body: webmBytes(3 * 1024 * 1024) },
  );
  expect(uploaded.status).toBe(201);
  const clip = (await uploaded.json()) as { artifact_id: string };
  let run = await answer(alice, started.run, { artifact_ids: [clip.artifact_id] });
  run = await answer(alice, run, { value: 'cats on skateboards' });
  expect(run.status).toBe('awaiting_input');
  sourceRunId = run.workflow_run_id;
  // A fork at the answered topic: the work runs again on the new branch (another draft, another
  // artifact), and the run ends there.
  const events = await alice.events(sourceRunId);
  const topicDone = events.find(
    (event) => event.event_type === 'module_completed' && event.module_name === 'topic',
  );
  const forked = await alice.request(`/v1/runs/${sourceRunId}/branches?${WAIT}`, {
    method: 'POST',
    json: { from_event_id: topicDone?.event_id },
  });
  expect(forked.status).toBe(201);
  // A command the run refuses (an answer to a question it asked before) stays in its inbox as
  // rejected, its error without details: the archive carries it, and the import must take it.
  const refused = await alice.request(
    `/v1/runs/${sourceRunId}/interactions/${started.run.pending_interaction?.interaction_id ?? ''}?${WAIT}`,
    { method: 'POST', json: { response: { artifact_ids: [clip.artifact_id] } } },
  );
  expect(refused.status).toBe(409);
  const rejected = await source.db.models.runCommands
    .findOne({ workflow_run_id: sourceRunId, status: 'rejected' })
    .lean();
  expect(rejected?.error?.code).toBe('INTERACTION_NOT_PENDING');
  expect(rejected?.error).not.toHaveProperty('details');
  run = await alice.get(sourceRunId);
  expect(run.status).toBe('awaiting_input');
  waitingArchive = await exportArchive(alice, sourceRunId);
  run = await answer(alice, run, { confirmed: true });
  expect(run.status).toBe('completed');
  archive = await exportArchive(alice, sourceRunId);
});

describe('a run exported and imported into a fresh database', () => {
  let imported: Imported;

  it('reads back identically (events, branches, state, artifacts by sha256, usage)', async () => {
    const before = await readBack(alice, sourceRunId);
    expect(before.branches).toHaveLength(2);
    expect(before.artifacts).toHaveLength(3);
    expect((before.usage as { items: unknown[] }).items).toHaveLength(2);
    const reply = await importInto(target.gateway, archive, { token: carol.token });
    expect(reply.status).toBe(201);
    imported = (await reply.json()) as Imported;
    // Every id was free in the fresh database, so the run's own ids are kept.
    expect(imported.run_id).toBe(sourceRunId);
    const after = await readBack(carol, imported.run_id);
    const renamed = new IdRenamer(new Map(Object.entries(imported.id_map))).value(before);
    expect(after).toEqual(renamed);
    for (const artifact of after.artifacts)
      expect(after.contents[artifact.artifact_id]).toBe(
        (artifact as unknown as { sha256: string }).sha256,
      );
  });

  it('can be branched from: a fork of the imported run runs on the new server', async () => {
    const events = await carol.events(imported.run_id);
    const topicDone = events.find(
      (event) => event.event_type === 'module_completed' && event.module_name === 'topic',
    );
    const callsBefore = provider.callsOf('chat').length;
    const forked = await carol.request(`/v1/runs/${imported.run_id}/branches?${WAIT}`, {
      method: 'POST',
      json: { from_event_id: topicDone?.event_id },
    });
    expect(forked.status).toBe(201);
    let run = await carol.get(imported.run_id);
    expect(run.status).toBe('awaiting_input');
    expect(provider.callsOf('chat').length).toBe(callsBefore + 1);
    run = await answer(carol, run, { confirmed: false });
    expect(run.status).toBe('completed');
    const branches = (await (
      await carol.request(`/v1/runs/${imported.run_id}/branches`)
    ).json()) as {
      items: unknown[];
    };
    expect(branches.items).toHaveLength(3);
  });

  it('a run exported while it waited is answered on the new server', async () => {
    const reply = await importInto(target.gateway, waitingArchive, { token: carol.token });
    expect(reply.status).toBe(201);
    const waiting = await carol.get(((await reply.json()) as Imported).run_id);
    expect(waiting.status).toBe('awaiting_input');
    expect(waiting.pending_interaction?.module_id).toBe('user.confirm');
    expect((await answer(carol, waiting, { confirmed: true })).status).toBe('completed');
  });

  it('imported again into the same database is another run, with new ids', async () => {
    const reply = await importInto(target.gateway, archive, { token: carol.token });
    expect(reply.status).toBe(201);
    const again = (await reply.json()) as Imported;
    expect(again.run_id).not.toBe(sourceRunId);
    expect((await carol.get(again.run_id)).status).toBe('completed');
  });
});

describe('an import for another user of the same database (the admin route)', () => {
  it("renames every id and touches nothing of the source run's", async () => {
    const before = await readBack(alice, sourceRunId);
    const countsBefore = await countEverything(source.db);
    const reply = await importInto(source.gateway, archive, {
      token: TEST_ADMIN_TOKEN,
      userId: bob.user.user_id,
    });
    expect(reply.status).toBe(201);
    const imported = (await reply.json()) as Imported;
    expect(imported.run_id).not.toBe(sourceRunId);
    const renamedIds = Object.entries(imported.id_map).filter(([from]) => !from.startsWith('ver_'));
    for (const [from, to] of renamedIds) expect(to, from).not.toBe(from);
    const after = await readBack(bobClient, imported.run_id);
    expect(after).toEqual(new IdRenamer(new Map(Object.entries(imported.id_map))).value(before));
    expect(await readBack(alice, sourceRunId)).toEqual(before);
    // Bob's run is his alone.
    expect((await alice.request(`/v1/runs/${imported.run_id}`)).status).toBe(404);
    const countsAfter = await countEverything(source.db);
    expect(countsAfter.runs).toBe((countsBefore.runs ?? 0) + 1);
    expect(countsAfter.templates).toBe((countsBefore.templates ?? 0) + 1);
  });

  it('answers 404 for a user that does not exist', async () => {
    const reply = await importInto(source.gateway, archive, {
      token: TEST_ADMIN_TOKEN,
      userId: 'usr_000000000000000000000000',
    });
    expect(reply.status).toBe(404);
  });
});

describe('refusals', () => {
  it("answers 404 for another user's run on export", async () => {
    const reply = await mallory.request(`/v1/runs/${sourceRunId}/export`);
    expect(reply.status).toBe(404);
  });

  const tampered: [string, () => Promise<Buffer>][] = [
    [
      'a changed byte in the zip',
      async () => {
        const copy = Buffer.from(archive);
        const at = copy.indexOf('draft number');
        expect(at).toBeGreaterThan(0);
        copy[at] = copy[at] === 0x41 ? 0x42 : 0x41;
        return copy;
      },
    ],
    [
      'an entry edited without its manifest hash',
      () =>
        alteredArchive(
          archive,
          (entries) => editLines(entries, 'events.jsonl', (events) => events.pop()),
          false,
        ),
    ],
    [
      'a missing entry',
      () =>
        alteredArchive(
          archive,
          (entries) => {
            for (const name of entries.keys())
              if (name.startsWith('artifacts/')) entries.delete(name);
          },
          false,
        ),
    ],
    [
      'an edited event (manifest rehashed)',
      () =>
        alteredArchive(
          archive,
          (entries) =>
            editLines(entries, 'events.jsonl', (events) => {
              const answered = events.find(
                (event) =>
                  event['event_type'] === 'module_completed' && event['module_name'] === 'topic',
              ) as { data: { state_changes: Record<string, unknown> } };
              answered.data.state_changes['topic'] = 'dogs';
            }),
          true,
        ),
    ],
    [
      'reordered seqs (manifest rehashed)',
      () =>
        alteredArchive(
          archive,
          (entries) =>
            editLines(entries, 'events.jsonl', (events) => {
              const [first, second] = [events[2], events[3]];
              if (!first || !second) throw new Error('short log');
              [first['seq'], second['seq']] = [second['seq'], first['seq']];
            }),
          true,
        ),
    ],
    [
      'an event of an unknown branch (manifest rehashed)',
      () =>
        alteredArchive(
          archive,
          (entries) =>
            editLines(entries, 'events.jsonl', (events) => {
              const last = events.at(-1);
              if (last) last['branch_id'] = 'br_000000000000000000000000';
            }),
          true,
        ),
    ],
    ['not a zip', async () => Buffer.from('certainly not a zip archive')],
  ];

  it.each(tampered)('refuses %s with 400 and writes nothing', async (_name, make) => {
    const bytes = await make();
    const before = await countEverything(target.db);
    const reply = await importInto(target.gateway, bytes, { token: carol.token });
    expect(reply.status).toBe(400);
    const body = (await reply.json()) as { error: { code: string } };
    expect(body.error.code).toBe('RUN_ARCHIVE_INVALID');
    expect(await countEverything(target.db)).toEqual(before);
  });
});

describe('imports that cannot be done as planned', () => {
  it('two imports of one archive at once into a fresh database: one keeps the ids, one renames', async () => {
    const gateway = raceGateway;
    const dave = await createTestUser(gateway, 'dave');
    const replies = await Promise.all(
      [0, 1].map(() => importInto(gateway, archive, { token: dave.api_key })),
    );
    expect(replies.map((reply) => reply.status)).toEqual([201, 201]);
    const runIds = await Promise.all(
      replies.map(async (reply) => ((await reply.json()) as Imported).run_id),
    );
    expect(runIds).toContain(sourceRunId);
    expect(new Set(runIds).size).toBe(2);
    const client = new RunsClient(gateway, dave.api_key);
    for (const runId of runIds) expect((await client.get(runId)).status).toBe('completed');
  });

  it('a write refused halfway leaves nothing behind, and the import can be done again', async () => {
    const db = halfwayDb;
    const userId = 'usr_00000000000000000000abcd';
    // The store refuses the second provider call's record (both are the same provider): the run's
    // branches, artifacts, events and commands are written by then.
    await db.models.tokens.collection.createIndex({ provider: 1 }, { unique: true });
    const before = await countEverything(db);
    await expect(importRun(db, { bytes: archive, targetUserId: userId })).rejects.toThrow(
      /duplicate key/,
    );
    expect(await countEverything(db)).toEqual(before);
    await db.models.tokens.collection.dropIndex('provider_1');
    const imported = await importRun(db, { bytes: archive, targetUserId: userId });
    expect(imported.run_id).toBe(sourceRunId);
    expect(await db.models.events.countDocuments({ workflow_run_id: sourceRunId })).toBeGreaterThan(
      10,
    );
  });
});

describe('a version here that contradicts the archive', () => {
  it('is a 409 (the same content hash, another workflow), with nothing written', async () => {
    const erin = await createTestUser(raceGateway, 'erin');
    const zip = await JSZip.loadAsync(archive);
    const version = JSON.parse(
      (await zip.file('versions.jsonl')?.async('string'))?.split('\n')[0] ?? '{}',
    ) as { content_hash: string };
    const now = new Date();
    await raceDb.models.templates.create({
      workflow_template_id: 'tpl_00000000000000000000e1e1',
      user_id: erin.user.user_id,
      workflow_template_name: 'archived_clip',
      display_name: null,
      created_at: now,
      updated_at: now,
    });
    await raceDb.models.versions.create({
      workflow_version_id: newId('version'),
      workflow_template_id: 'tpl_00000000000000000000e1e1',
      user_id: erin.user.user_id,
      content_hash: version.content_hash,
      raw_sha256: 'x',
      source_type: 'json',
      resolved_workflow: { ...workflow, steps: [] },
      size: 1,
      source_file_id: null,
      created_at: now,
    });
    const before = await countEverything(raceDb);
    const reply = await importInto(raceGateway, archive, { token: erin.api_key });
    expect(reply.status).toBe(409);
    expect(((await reply.json()) as { error: { code: string } }).error.code).toBe('CONFLICT');
    expect(await countEverything(raceDb)).toEqual(before);
  });
});

describe('exportRunToFile (for retention)', () => {
  it('writes the archive whole, with its sha256 and size, and it imports', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'run-archive-'));
    try {
      const file = await exportRunToFile(source.db, {
        runId: sourceRunId,
        userId: aliceUser.user.user_id,
        dir,
      });
      const bytes = await readFile(file.path);
      expect(file.bytes).toBe(bytes.length);
      expect(file.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
      expect(await readdir(dir)).toEqual([`${sourceRunId}.zip`]);
      const imported = await importRun(fileDb, {
        bytes,
        targetUserId: 'usr_00000000000000000000beef',
      });
      expect(imported.run_id).toBe(sourceRunId);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
