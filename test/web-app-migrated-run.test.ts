import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { mongo } from 'mongoose';
import { writeOriginalDatabase } from '../packages/migrate/src/original-fixture/index.js';
import { migrateOriginalDatabase } from '../packages/migrate/src/original/migrate-original.js';
import { expectAccessible } from './support/browser.js';
import { useTestDatabases } from './support/databases.js';
import { openRunPageWorld } from './support/run-page.js';

/**
 * A person works on a run migrated from the original system (issue 24), in Debian's Chromium:
 * the run page shows the original's log (its kept events read as such) and the question the run
 * was waiting on, and the person answers it there. A single-user database is migrated with the
 * signed-in person as its default user, so its runs are hers. Needs the built app.
 */

const { db, runs, page, shoot, runUrl, seeInTimeline } =
  await openRunPageWorld('web-app-migrated-run');
const mediaDir = await mkdtemp(join(tmpdir(), 'migrated-run-media-'));
const allRunIds = async () =>
  (await db.models.runs.find({}, { workflow_run_id: 1 }).sort({ workflow_run_id: 1 }).lean()).map(
    (run) => run.workflow_run_id,
  );
afterAll(() => rm(mediaDir, { recursive: true, force: true }));

describe('a migrated run on the run page', () => {
  it('shows the original log and the waiting question, and takes the answer', async () => {
    const source = await useTestDatabases('web_app_migrated_source', { indexes: false });
    const fixture = await writeOriginalDatabase(source.mongo.db as mongo.Db, {
      generation: 'single-user',
      runs: 24,
      seed: 'issue-24-web',
      mediaDir,
    });
    const report = await migrateOriginalDatabase(source.mongo, db.mongo, {
      defaultUsername: 'ada',
      mediaBase: mediaDir,
      originalMediaBase: null,
      pageSize: 100,
      progress: () => undefined,
    });
    expect(report.runs.runs).toBe(24);

    // A run the original forked (a jump): its kept event reads as the original's, in place.
    let forked: string | null = null;
    for (const runId of await allRunIds()) {
      const events = await runs.events(runId);
      if (events.some((event) => event.data['legacy_type'] === 'jump_requested')) {
        forked = runId;
        break;
      }
    }
    expect(forked).not.toBeNull();
    await page.goto(runUrl(forked ?? ''));
    await seeInTimeline(/The run started/);
    await seeInTimeline(/Recorded jump_requested \(from the original system\)/);
    await expectAccessible(page, 'a migrated run with a jump');
    await shoot(page, '01-migrated-jump');

    // A run that waits on a select: the question is asked with the original's items.
    let waiting = null;
    for (const runId of fixture.waiting_run_ids) {
      const run = await runs.get(runId);
      if (run.pending_interaction?.module_id === 'user.select') {
        waiting = run;
        break;
      }
    }
    expect(waiting).not.toBeNull();
    const runId = waiting?.workflow_run_id ?? '';
    await page.goto(runUrl(runId));
    await seeInTimeline(/asked “Which pet\?”/);
    await page.getByRole('link', { name: 'Answer the question' }).click();
    const cards = page.getByRole('radio');
    await expect.poll(() => cards.count(), { timeout: 15_000 }).toBeGreaterThan(1);
    await expectAccessible(page, 'a migrated run waiting on a select');
    await shoot(page, '02-migrated-question');
    await page.getByRole('radio', { name: 'Dog', exact: true }).check();
    await page.getByRole('button', { name: 'Send choice' }).click();
    await expect
      .poll(
        async () =>
          (await runs.events(runId))
            .filter((event) => event.event_type === 'interaction_responded')
            .map((event) => event.data['response']),
        { timeout: 15_000 },
      )
      .toContainEqual({ selected_indices: [1] });
    // The translated module's outputs go where the original's did: the chosen item, by its key.
    await expect
      .poll(async () => (await runs.state(runId)).state['pet_type_selection'], { timeout: 15_000 })
      .toMatchObject({ label: 'Dog' });
    await shoot(page, '03-migrated-answered');
  }, 120_000);
});
