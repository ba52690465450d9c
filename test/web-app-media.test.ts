import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunView } from '@stepwise/shared';
import { expectAccessible, openSignedInPage, screenshotsIn, webAppDir } from './support/browser.js';
import { useTestDatabases } from './support/databases.js';
import { startTestGateway, startTestResolver } from './support/gateway.js';
import { createSignedInPerson } from './support/people.js';
import { startTestRunner } from './support/runner.js';
import { RunsClient } from './support/runs.js';

/**
 * Media in the web app (media.md, "Seeing media"; people.md, "Context"), in Debian's Chromium:
 * a clip a workflow stored plays beside the question (its bytes served by the gateway); a person
 * answers a file question by uploading pictures through the real file input, sees their
 * previews and the server's refusal of a file that is not what it claims, then picks one of the
 * uploaded pictures from a grid of previews. Axe finds no serious or critical violation.
 * Screenshots go to test-artifacts/web-app-media. Needs the built app
 * (`npm run -s build -w @stepwise/web`).
 */

const shoot = screenshotsIn('web-app-media');
/** About 1.8 s of VP8 made by Chromium itself (test/fixtures/media/make-clip.mjs). */
const clip = readFileSync(new URL('./fixtures/media/clip.webm', import.meta.url));

const db = await useTestDatabases('web_app_media');
const gateway = await startTestGateway(db, { settings: { webAppDir } });
await startTestResolver(db);
await startTestRunner(db);

const mia = await createSignedInPerson(gateway, 'mia');
const runs = new RunsClient(gateway, mia.apiKey);

let browser: Browser;
let page: Page;
beforeAll(async () => {
  ({ browser, page } = await openSignedInPage(gateway, mia.cookie, [
    '--autoplay-policy=no-user-gesture-required',
  ]));
});
afterAll(async () => {
  await browser?.close();
});

/** What the test reads of a `<video>` and an `<img>` in the page (tests have no DOM lib). */
interface VideoElement {
  muted: boolean;
  currentTime: number;
  videoWidth: number;
  error: { code: number; message: string } | null;
  play(): Promise<void>;
}
interface ImageElement {
  naturalWidth: number;
}

function answerUrl(run: RunView): string {
  const interaction = run.pending_interaction?.interaction_id ?? '';
  return `${gateway.url}/app/runs/${run.workflow_run_id}/interactions/${interaction}`;
}

/** The statuses the gateway answered for a path, as the page loaded it. */
function statusesFor(pattern: RegExp): number[] {
  const statuses: number[] = [];
  page.on('response', (response) => {
    if (pattern.test(new URL(response.url()).pathname)) statuses.push(response.status());
  });
  return statuses;
}

describe('media in the web app', () => {
  it('plays a clip the workflow stored beside the question it asks about', async () => {
    const versionId = await runs.submitJson({
      workflow_id: 'media_clip',
      steps: [
        {
          step_id: 'render',
          modules: [
            {
              module_id: 'artifact.save',
              name: 'store_clip',
              inputs: {
                name: 'clip.webm',
                content: clip.toString('base64'),
                encoding: 'base64',
                content_type: 'video/webm',
              },
              outputs_to_state: { artifact_id: 'clip_id' },
            },
          ],
        },
        {
          step_id: 'review',
          modules: [
            {
              module_id: 'user.confirm',
              name: 'approve_clip',
              inputs: { message: 'Publish this clip?' },
              display: [
                { label: 'The clip', kind: 'video', value: '{{ state.clip_id }}' },
                { label: 'The clip file', kind: 'artifact', value: '{{ state.clip_id }}' },
              ],
              outputs_to_state: { confirmed: 'approved' },
            },
          ],
        },
      ],
    });
    const { run } = await runs.start({ workflow_version_id: versionId }, '?wait_ms=20000');
    expect(run.status).toBe('awaiting_input');
    const clipId = String((await runs.state(run.workflow_run_id)).state['clip_id']);
    expect(clipId).toMatch(/^art_/);

    const content = statusesFor(new RegExp(`^/v1/artifacts/${clipId}/content$`));
    await page.goto(answerUrl(run));
    const video = page.locator('video[aria-label="The clip"]');
    await expect.poll(() => video.count(), { timeout: 10_000 }).toBe(1);
    expect(await video.getAttribute('src')).toBe(`/v1/artifacts/${clipId}/content`);

    // It plays: play() resolves, the playhead passes one second, and no media error occurs.
    const played = await video.evaluate(async (element: VideoElement) => {
      element.muted = true;
      try {
        await element.play();
        return 'playing';
      } catch (error) {
        return `play() failed: ${String(error)}`;
      }
    });
    expect(played).toBe('playing');
    await expect
      .poll(() => video.evaluate((element: VideoElement) => element.currentTime), {
        timeout: 10_000,
      })
      .toBeGreaterThanOrEqual(1);
    expect(
      await video.evaluate((element: VideoElement) =>
        element.error ? `${element.error.code} ${element.error.message}` : null,
      ),
    ).toBeNull();
    expect(await video.evaluate((element: VideoElement) => element.videoWidth)).toBe(96);
    // The gateway served the bytes (whole, or the ranges the player asked for).
    expect(content.length).toBeGreaterThan(0);
    expect(content.every((status) => status === 200 || status === 206 || status === 304)).toBe(
      true,
    );

    // The `artifact` item is read from its metadata and shown as what it is: a player again,
    // with a download link under its name.
    const fileItem = page.getByRole('region', { name: 'The clip file' });
    await expect.poll(() => fileItem.locator('video').count(), { timeout: 10_000 }).toBe(1);
    expect(await fileItem.getByRole('link', { name: /Download clip\.webm/ }).count()).toBe(1);

    await expectAccessible(page, 'a confirm question with a video');
    await shoot(page, '01-video');
    await page.getByRole('button', { name: 'Approve' }).click();
    await expect
      .poll(async () => (await runs.get(run.workflow_run_id)).status, { timeout: 15_000 })
      .toBe('completed');
    expect((await runs.state(run.workflow_run_id)).state['approved']).toBe(true);
  }, 60_000);

  it('uploads pictures through the file input, shows them, and lets the person pick one', async () => {
    const versionId = await runs.submitJson({
      workflow_id: 'media_upload',
      steps: [
        {
          step_id: 'photos',
          modules: [
            {
              module_id: 'user.file_input',
              name: 'upload_photos',
              inputs: {
                prompt: 'Upload photos of your pet',
                accept: ['image/png', 'image/jpeg'],
                max_bytes: 2_000_000,
                min_files: 1,
                max_files: 2,
              },
              outputs_to_state: { artifact_ids: 'photo_ids' },
            },
          ],
        },
        {
          step_id: 'pick',
          modules: [
            {
              module_id: 'user.select',
              name: 'pick_photo',
              inputs: {
                prompt: 'Which photo goes on the poster?',
                options: '{{ state.photo_ids }}',
              },
              outputs_to_state: { selected: 'poster' },
            },
          ],
        },
      ],
    });
    const { run } = await runs.start({ workflow_version_id: versionId }, '?wait_ms=20000');
    expect(run.status).toBe('awaiting_input');
    expect(run.pending_interaction?.module_id).toBe('user.file_input');

    const picture = (r: number, g: number, b: number) =>
      sharp({ create: { width: 800, height: 600, channels: 3, background: { r, g, b } } })
        .png()
        .toBuffer();
    const [orange, teal] = await Promise.all([picture(230, 120, 30), picture(20, 140, 140)]);

    await page.goto(answerUrl(run));
    const input = page.getByLabel('Upload photos of your pet');
    await expect.poll(() => input.isVisible(), { timeout: 10_000 }).toBe(true);
    expect(await input.getAttribute('accept')).toBe('image/png,image/jpeg');
    expect(await input.getAttribute('multiple')).not.toBeNull();
    await expectAccessible(page, 'a file question');
    await shoot(page, '02-file-question');

    // A text file named .png: the gateway reads its bytes and refuses it (415), and says why.
    const uploads = statusesFor(new RegExp(`^/v1/runs/${run.workflow_run_id}/uploads$`));
    await input.setInputFiles({
      name: 'notes.png',
      mimeType: 'image/png',
      buffer: Buffer.from('these are notes, not a picture\n'),
    });
    const refusal = page
      .getByRole('list', { name: 'Chosen files' })
      .getByText(/notes\.png was not accepted: \S/);
    await expect.poll(() => refusal.isVisible(), { timeout: 10_000 }).toBe(true);
    expect(uploads).toEqual([415]);
    await shoot(page, '03-file-refused');
    await page.getByRole('button', { name: 'Remove notes.png' }).click();

    // Two pictures through the real file input: each uploaded, its preview shown.
    await input.setInputFiles([
      { name: 'orange.png', mimeType: 'image/png', buffer: orange },
      { name: 'teal.png', mimeType: 'image/png', buffer: teal },
    ]);
    for (const name of ['orange.png', 'teal.png']) {
      const preview = page.getByRole('img', { name: `Preview of ${name}` });
      await expect.poll(() => preview.isVisible(), { timeout: 10_000 }).toBe(true);
      // The preview, not the original: at most 512 px wide, and loaded.
      await expect
        .poll(() => preview.evaluate((image: ImageElement) => image.naturalWidth))
        .toBeGreaterThan(0);
      expect(
        await preview.evaluate((image: ImageElement) => image.naturalWidth),
      ).toBeLessThanOrEqual(512);
    }
    expect(uploads.filter((status) => status === 201)).toHaveLength(2);
    // A third file dropped on the zone: over max_files, left out with a note, never sent.
    // (A string, evaluated in the page: the tests are compiled without the DOM's types.)
    const dropped = await page.evaluateHandle(`(() => {
      const transfer = new DataTransfer();
      transfer.items.add(new File(['third'], 'third.png', { type: 'image/png' }));
      return transfer;
    })()`);
    await page.locator('.drop-zone').dispatchEvent('drop', { dataTransfer: dropped });
    await expect
      .poll(() => page.getByText('At most 2 files can be sent: 1 left out.').isVisible())
      .toBe(true);
    expect(uploads).toHaveLength(3);
    await expectAccessible(page, 'a file question with uploaded files');
    await shoot(page, '04-files-uploaded');
    await page.getByRole('button', { name: 'Send 2 files' }).click();

    // The uploaded pictures come back as the options of the next question, as previews.
    const cards = page.getByRole('radio');
    await expect.poll(() => cards.count(), { timeout: 10_000 }).toBe(2);
    const { state } = await runs.state(run.workflow_run_id);
    const photoIds = state['photo_ids'] as string[];
    expect(photoIds).toHaveLength(2);
    const options = page.locator('.option-card img');
    await expect
      .poll(() =>
        options.evaluateAll((images) =>
          images.map((image) => (image as unknown as ImageElement).naturalWidth),
        ),
      )
      .toEqual([512, 512]);
    expect(
      await options.evaluateAll((images) => images.map((image) => image.getAttribute('src'))),
    ).toEqual(photoIds.map((id) => `/v1/artifacts/${id}/preview`));
    await expectAccessible(page, 'a select question with pictures');
    // Keyboard only: arrows move between the cards, the chosen one is marked, Enter sends.
    await cards.first().focus();
    await page.keyboard.press('ArrowDown');
    // Each card is named by the uploaded file's name (the artifact's metadata), not its id.
    const tealCard = page.getByRole('radio', { name: 'teal.png' });
    await expect.poll(() => tealCard.isChecked(), { timeout: 10_000 }).toBe(true);
    expect(await page.locator('.option-card-selected').count()).toBe(1);
    await shoot(page, '05-pick-picture');
    await page.keyboard.press('Enter');
    await expect
      .poll(async () => (await runs.get(run.workflow_run_id)).status, { timeout: 15_000 })
      .toBe('completed');
    expect((await runs.state(run.workflow_run_id)).state['poster']).toBe(photoIds[1]);
  }, 90_000);
});
