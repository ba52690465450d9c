import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { mongo } from 'mongoose';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  originalIndexes,
  writeOriginalDatabase,
  type OriginalFixtureSummary,
  type OriginalGeneration,
} from '../src/original-fixture/index.js';
import {
  originalFlatState,
  originalPendingInteraction,
  originalRunViews,
  originalTokenTotal,
  originalUsageTotal,
} from '../../../test/support/original-rules.js';

type Doc = Record<string, unknown>;

/** Every event type the original's enum had, per generation (research §1.1, §4.2). */
const singleUserTypes = [
  'workflow_created',
  'workflow_resumed',
  'workflow_completed',
  'workflow_error',
  'step_started',
  'step_completed',
  'module_started',
  'module_completed',
  'module_error',
  'interaction_requested',
  'interaction_response',
  'retry_requested',
  'jump_requested',
  'output_stored',
];
const multiUserTypes = [
  ...singleUserTypes,
  'workflow_recovered',
  'sub_action_started',
  'sub_action_completed',
];

let client: mongo.MongoClient;
const databases: string[] = [];
const directories: string[] = [];

beforeAll(async () => {
  client = await mongo.MongoClient.connect(inject('mongoUrl'));
});

afterAll(async () => {
  for (const name of databases)
    await client
      .db(name)
      .dropDatabase()
      .catch(() => undefined);
  await client.close();
  for (const dir of directories) rmSync(dir, { recursive: true, force: true });
});

function freshDatabase(label: string): mongo.Db {
  const name = `t_original_${label}_${randomBytes(4).toString('hex')}`;
  databases.push(name);
  return client.db(name);
}

function freshMediaDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'original-media-'));
  directories.push(dir);
  return dir;
}

/** Every document of every collection, ordered by _id, with the media dir replaced by a marker. */
async function dump(db: mongo.Db, mediaDir: string): Promise<string> {
  const names = (await db.listCollections().toArray()).map((c) => c.name).sort();
  const whole: Record<string, Doc[]> = {};
  for (const name of names)
    whole[name] = (await db.collection(name).find({}).sort({ _id: 1 }).toArray()) as Doc[];
  return JSON.stringify(whole).replaceAll(mediaDir, '<MEDIA>');
}

function filesUnder(dir: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  const walk = (current: string): void => {
    for (const entry of readdirSync(current)) {
      const path = join(current, entry);
      if (statSync(path).isDirectory()) walk(path);
      else files.set(relative(dir, path), readFileSync(path));
    }
  };
  walk(dir);
  return files;
}

function fieldsOf(doc: Doc | null | undefined): string[] {
  return Object.keys(doc ?? {});
}

describe.each<OriginalGeneration>(['single-user', 'multi-user'])(
  'original fixture, %s',
  (generation) => {
    const runs = 60;
    let db: mongo.Db;
    let mediaDir: string;
    let summary: OriginalFixtureSummary;

    beforeAll(async () => {
      db = freshDatabase(generation.replace('-', '_'));
      mediaDir = freshMediaDir();
      summary = await writeOriginalDatabase(db, { generation, runs, seed: 'fixture-a', mediaDir });
    });

    it('is the same database and the same media bytes for the same seed', async () => {
      const twin = freshDatabase(`${generation.replace('-', '_')}_twin`);
      const twinMedia = freshMediaDir();
      const twinSummary = await writeOriginalDatabase(twin, {
        generation,
        runs,
        seed: 'fixture-a',
        mediaDir: twinMedia,
      });
      expect(twinSummary).toEqual(summary);
      expect(await dump(twin, twinMedia)).toEqual(await dump(db, mediaDir));
      const ours = filesUnder(mediaDir);
      const theirs = filesUnder(twinMedia);
      expect([...theirs.keys()].sort()).toEqual([...ours.keys()].sort());
      for (const [path, bytes] of ours) expect(theirs.get(path)?.equals(bytes), path).toBe(true);
      expect(ours.size).toBe(summary.media_files);

      const other = freshDatabase(`${generation.replace('-', '_')}_other`);
      await writeOriginalDatabase(other, {
        generation,
        runs,
        seed: 'fixture-b',
        mediaDir: freshMediaDir(),
      });
      expect(await dump(other, mediaDir)).not.toEqual(await dump(db, mediaDir));
    });

    it('holds every event type of the generation, and only those', async () => {
      const expected = generation === 'single-user' ? singleUserTypes : multiUserTypes;
      const stored = (await db.collection('events').distinct('event_type')) as string[];
      expect(stored.sort()).toEqual([...expected].sort());
      expect(Object.keys(summary.event_type_counts).sort()).toEqual([...expected].sort());
      expect(await db.collection('events').countDocuments()).toBe(summary.events);
      const reset = await db
        .collection('events')
        .findOne({ event_type: 'workflow_created', 'data.reset': true });
      expect(reset).not.toBeNull();
    });

    it('keeps event ids sortable by time within each run, timestamps strictly increasing', async () => {
      const runKey = generation === 'single-user' ? 'workflow_id' : 'workflow_run_id';
      const events = (await db.collection('events').find({}).toArray()) as Doc[];
      const byRun = new Map<string, Doc[]>();
      for (const event of events) {
        const runId = String(event[runKey]);
        byRun.set(runId, [...(byRun.get(runId) ?? []), event]);
      }
      for (const list of byRun.values()) {
        list.sort((a, b) => (String(a['event_id']) < String(b['event_id']) ? -1 : 1));
        for (let i = 1; i < list.length; i++) {
          expect((list[i]?.['timestamp'] as Date).getTime()).toBeGreaterThan(
            (list[i - 1]?.['timestamp'] as Date).getTime(),
          );
        }
      }
      for (const event of events.slice(0, 200))
        expect(String(event['event_id'])).toMatch(
          /^evt_[0-9a-f]{12}7[0-9a-f]{3}[89ab][0-9a-f]{15}$/,
        );
    });

    it('waiting runs have a pending select or text question, as the original computes it', async () => {
      expect(summary.waiting_run_ids.length).toBeGreaterThanOrEqual(10);
      for (const runId of summary.waiting_run_ids) {
        const pending = await originalPendingInteraction(db, runId);
        expect(pending, runId).not.toBeNull();
        expect(['user.select', 'user.text_input']).toContain(pending?.['module_id']);
        expect(String(pending?.['interaction_id'])).toMatch(/^(select|text_input)_[0-9a-f]{32}$/);
        expect(pending?.['_resolved_inputs']).toBeTypeOf('object');
      }
      const views = await originalRunViews(db);
      for (const [runId, view] of views) {
        if (view.status === 'completed') expect(view.pendingInteraction, runId).toBeNull();
      }
    });

    it('the bulk view agrees with the per-run rules', async () => {
      const views = await originalRunViews(db);
      const runCollection = generation === 'single-user' ? 'workflows' : 'workflow_runs';
      expect(views.size).toBe(await db.collection(runCollection).countDocuments());
      for (const [runId, view] of [...views].slice(0, 40)) {
        expect(view.flatState).toEqual(await originalFlatState(db, runId));
        expect(view.pendingInteraction).toEqual(await originalPendingInteraction(db, runId));
        expect(view.usageTotal).toBe(await originalUsageTotal(db, runId));
        expect(view.tokenTotal).toBe(await originalTokenTotal(db, runId));
      }
      const completed = [...views.values()].find(
        (v) => v.status === 'completed' && 'scene_mood' in v.flatState,
      );
      expect(completed?.flatState).toHaveProperty('selected_scene');
      // §5.1: a missing output path maps to an explicit null somewhere in the fixture.
      expect([...views.values()].some((v) => v.flatState['scene_mood'] === null)).toBe(true);
    });

    it("carries the original's indexes under the original's names", async () => {
      for (const [collection, wanted] of Object.entries(originalIndexes(generation))) {
        const built = await db.collection(collection).indexes();
        for (const index of wanted) {
          // Unnamed ones get the driver's derived name, as pymongo derived it in the original.
          const name = index.name ?? Object.entries(index.key).flat().join('_');
          const found = built.find((b) => b.name === name);
          expect(found?.key, `${collection}.${name}`).toEqual(index.key);
          expect(Boolean(found?.unique), `${collection}.${name}`).toBe(Boolean(index.unique));
        }
      }
      // Names the research spells out: the legacy ones m_3 drops, some that m_1/m_9/m_10/m_12 create.
      const spelledOut: Record<string, string[]> =
        generation === 'single-user'
          ? {
              workflows: ['workflow_id_1', 'project_path_1'],
              events: ['workflow_id_1'],
              workflow_templates: ['workflow_template_name_1'],
            }
          : {
              events: ['workflow_run_id_1_branch_id_1_event_id_1', 'workflow_version_id_1'],
              weighted_keywords: ['workflow_template_keyword_unique'],
              generated_content: ['gc_workflow_run_id', 'gc_metadata_id'],
              task_queue: ['poll_tasks_idx', 'task_id_idx'],
            };
      for (const [collection, names] of Object.entries(spelledOut)) {
        const built = (await db.collection(collection).indexes()).map((index) => index.name);
        expect(built, collection).toEqual(expect.arrayContaining(names));
      }
    });

    if (generation === 'single-user') {
      it('stores the single-user shapes', async () => {
        const names = (await db.listCollections().toArray()).map((c) => c.name).sort();
        expect(names).toEqual([
          'branches',
          'config',
          'events',
          'keyword_history',
          'option_usage',
          'tokens',
          'workflow_templates',
          'workflow_versions',
          'workflows',
        ]);
        expect(summary.users).toEqual([]);
        const workflow = await db.collection('workflows').findOne({
          current_workflow_version_id: { $exists: true },
          current_branch_id: { $exists: true },
        });
        expect(fieldsOf(workflow)).toEqual(
          expect.arrayContaining([
            'workflow_id',
            'workflow_template_id',
            'current_workflow_version_id',
            'project_path',
            'workflow_path',
            'current_branch_id',
            'status',
            'current_step',
            'created_at',
            'updated_at',
          ]),
        );
        expect(String(workflow?.['workflow_id'])).toMatch(/^wf_[0-9a-f]{12}$/);
        expect(
          await db
            .collection('workflows')
            .countDocuments({ current_workflow_version_id: { $exists: false } }),
        ).toBeGreaterThan(0);
        expect(
          await db.collection('workflows').countDocuments({ project_folder: { $exists: true } }),
        ).toBe(0);
        expect(await db.collection('branches').countDocuments({ lineage: { $exists: true } })).toBe(
          0,
        );
        expect(
          await db.collection('branches').countDocuments({ parent_branch_id: { $ne: null } }),
        ).toBeGreaterThan(0);
        expect(
          await db.collection('events').countDocuments({ workflow_version_id: { $exists: true } }),
        ).toBe(0);
        expect(
          await db.collection('events').countDocuments({ branch_id: { $exists: false } }),
        ).toBeGreaterThan(0);
        expect(
          await db
            .collection('events')
            .countDocuments({ branch_id: null, event_id: { $exists: true } }),
        ).toBeGreaterThan(0);
        const token = await db.collection('tokens').findOne({});
        expect(fieldsOf(token)).toEqual(
          expect.arrayContaining([
            'workflow_id',
            'timestamp',
            'step_id',
            'model',
            'prompt_tokens',
            'completion_tokens',
            'cached_tokens',
            'total_tokens',
          ]),
        );
        expect(
          await db.collection('workflow_templates').countDocuments({ user_id: { $exists: true } }),
        ).toBe(0);
        expect(
          await db
            .collection('workflow_versions')
            .countDocuments({ version_type: { $exists: true } }),
        ).toBe(0);
        expect(await db.collection('keyword_history').countDocuments()).toBeGreaterThan(0);
        expect(typeof (await db.collection('config').findOne({}))?.['created_at']).toBe('string');
      });
    } else {
      it('stores the multi-user shapes', async () => {
        const names = (await db.listCollections().toArray()).map((c) => c.name).sort();
        expect(names).toEqual([
          'access_keys',
          'branches',
          'config',
          'content_generation_metadata',
          'events',
          'generated_content',
          'invitation_codes',
          'option_usage',
          'refresh_tokens',
          'schema_migrations',
          'task_queue',
          'tokens',
          'users',
          'weighted_keywords',
          'workflow_files',
          'workflow_run_version_history',
          'workflow_runs',
          'workflow_templates',
          'workflow_versions',
        ]);
        expect(await db.collection('schema_migrations').countDocuments()).toBe(13);
        expect(summary.users.length).toBeGreaterThanOrEqual(3);
        for (const user of summary.users)
          for (const key of user.access_keys) expect(key).toMatch(/^wfk_[A-Za-z0-9_-]{43}$/);
        expect(
          await db.collection('access_keys').countDocuments({ is_active: false }),
        ).toBeGreaterThan(0);
        expect(
          await db
            .collection('workflow_runs')
            .countDocuments({ workflow_run_id: /^wf_sub_/, user_id: { $exists: false } }),
        ).toBeGreaterThan(0);
        expect(
          await db
            .collection('workflow_runs')
            .countDocuments({ 'ai_config.api_key': { $exists: true } }),
        ).toBeGreaterThan(0);
        expect(
          await db.collection('branches').countDocuments({ 'lineage.1': { $exists: true } }),
        ).toBeGreaterThan(0);
        expect(
          await db.collection('events').countDocuments({ workflow_version_id: { $exists: false } }),
        ).toBe(0);
        expect(
          await db
            .collection('workflow_templates')
            .countDocuments({ user_id: 'global', scope: 'global' }),
        ).toBe(1);
        expect(
          await db
            .collection('workflow_templates')
            .countDocuments({ visibility: 'hidden', derived_from: { $exists: true } }),
        ).toBeGreaterThan(0);
        for (const type of ['raw', 'unresolved', 'resolved'])
          expect(
            await db.collection('workflow_versions').countDocuments({ version_type: type }),
          ).toBeGreaterThan(0);
        // Several versions of one template whose created_at order differs from their id order.
        const raws = (await db
          .collection('workflow_versions')
          .find({ version_type: 'raw' })
          .toArray()) as Doc[];
        const byTemplate = new Map<string, Doc[]>();
        for (const v of raws)
          byTemplate.set(String(v['workflow_template_id']), [
            ...(byTemplate.get(String(v['workflow_template_id'])) ?? []),
            v,
          ]);
        const disordered = [...byTemplate.values()].some((list) => {
          const byId = [...list].sort((a, b) =>
            String(a['workflow_version_id']) < String(b['workflow_version_id']) ? -1 : 1,
          );
          const byTime = [...list].sort(
            (a, b) => (a['created_at'] as Date).getTime() - (b['created_at'] as Date).getTime(),
          );
          return (
            list.length > 1 &&
            byId[0]?.['workflow_version_id'] !== byTime[0]?.['workflow_version_id']
          );
        });
        expect(disordered).toBe(true);
        for (const node of [
          'llm.openai',
          'llm.anthropic',
          'media.midjourney',
          'media.leonardo',
          'media.elevenlabs',
        ]) {
          const found = (await db.collection('tokens').find({}).toArray()).some((t) => node in t);
          expect(found, node).toBe(true);
        }
        for (const category of ['api_calls', 'outputs'])
          expect(
            await db.collection('workflow_files').countDocuments({ category }),
          ).toBeGreaterThan(0);
        expect(
          await db.collection('workflow_files').countDocuments({ content_type: 'text' }),
        ).toBeGreaterThan(0);
        const absolute = await db
          .collection('generated_content')
          .countDocuments({ local_path: { $regex: '^/' } });
        const relativePaths = await db
          .collection('generated_content')
          .countDocuments({ local_path: { $regex: '^(images|videos|audio)/' } });
        expect(absolute).toBeGreaterThan(0);
        expect(relativePaths).toBeGreaterThan(absolute);
        for (const doc of (await db.collection('generated_content').find({}).toArray()) as Doc[]) {
          const path = String(doc['local_path']);
          const bytes = readFileSync(path.startsWith('/') ? path : join(mediaDir, path));
          expect(bytes.length).toBeGreaterThan(0);
        }
        expect(filesUnder(mediaDir).size).toBe(summary.media_files);
        for (const folder of ['images', 'videos', 'audio'])
          expect(readdirSync(join(mediaDir, folder)).length).toBeGreaterThan(0);
        const nonEmptyMapped = await db.collection('events').countDocuments({
          event_type: 'sub_action_completed',
          'data._state_mapped.refined_image_prompts': { $exists: true },
        });
        expect(nonEmptyMapped).toBeGreaterThan(0);
        expect(await db.collection('task_queue').countDocuments()).toBeGreaterThan(0);
        expect(
          await db.collection('workflow_run_version_history').countDocuments(),
        ).toBeGreaterThanOrEqual(runs);
      });
    }
  },
);
