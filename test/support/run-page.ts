import type { Locator, Page } from 'playwright-core';
import { afterAll, expect } from 'vitest';
import type { EventView, RunView } from '@stepwise/shared';
import { openSignedInPage, screenshotsIn, webAppDir } from './browser.js';
import { useTestDatabases, type TestDatabases } from './databases.js';
import { startTestGateway, startTestResolver, type TestGateway } from './gateway.js';
import { createSignedInPerson, type SignedIn } from './people.js';
import { startTestRunner } from './runner.js';
import { RunsClient } from './runs.js';

/**
 * What the run page's browser tests (issue 19; people.md, "Run") start from: the whole system on
 * the file's own databases, a person (ada) signed in, Chromium open on one page as her, and the
 * means to start runs and read their timeline. Split over several files, each gets its own.
 */
export interface RunPageWorld {
  /** The file's own databases (what the system under test reads and writes). */
  db: TestDatabases;
  gateway: TestGateway;
  /** The signed-in person; her cookie fetches what the page links to. */
  ada: SignedIn;
  /** The runs API as ada, through her key. */
  runs: RunsClient;
  /** The one page the file's tests drive, one after another. */
  page: Page;
  /** Saves a full-page screenshot into the file's own folder of test-artifacts. */
  shoot: (page: Page, name: string) => Promise<void>;
  /** Submits the workflow and starts a run of it, answered once it stops moving. */
  startRun: (workflow: unknown) => Promise<RunView>;
  /** The run page's address. */
  runUrl: (runId: string) => string;
  /** The page's timeline. */
  timeline: () => Locator;
  /** Waits until the timeline shows `text` (a string or a pattern). */
  seeInTimeline: (text: string | RegExp) => Promise<void>;
  /** The answers given on a branch, read through the API. */
  answersOn: (runId: string, branchId: string) => Promise<unknown[]>;
}

/**
 * Opens the world for the calling test file. `name` (kebab-case, e.g. `web-app-run`) names its
 * screenshots folder and, with underscores, its databases. The browser closes after the file.
 */
export async function openRunPageWorld(name: string): Promise<RunPageWorld> {
  const db = await useTestDatabases(name.replaceAll('-', '_'));
  const gateway = await startTestGateway(db, { settings: { webAppDir } });
  await startTestResolver(db);
  await startTestRunner(db);

  const ada = await createSignedInPerson(gateway, 'ada');
  const runs = new RunsClient(gateway, ada.apiKey);
  const { browser, page } = await openSignedInPage(gateway, ada.cookie);
  afterAll(() => browser.close());

  const timeline = () => page.getByTestId('timeline');
  return {
    db,
    gateway,
    ada,
    runs,
    page,
    shoot: screenshotsIn(name),
    timeline,
    async startRun(workflow) {
      const versionId = await runs.submitJson(workflow);
      const { run } = await runs.start({ workflow_version_id: versionId }, '?wait_ms=20000');
      return run;
    },
    runUrl: (runId) => `${gateway.url}/app/runs/${runId}`,
    async seeInTimeline(text) {
      await expect
        .poll(() => timeline().getByText(text).first().isVisible(), { timeout: 15_000 })
        .toBe(true);
    },
    async answersOn(runId, branchId) {
      const events = await runs.events(runId, `branch_id=${branchId}`);
      return events
        .filter((event: EventView) => event.event_type === 'interaction_responded')
        .map((event) => event.data['response']);
    },
  };
}
