import type {
  CreateMigrationBody,
  MigrationCounts,
  MigrationDryRun,
  MigrationFilter,
  MigrationPolicy,
  MigrationRunOutcome,
  MigrationView,
  UnfinishedRunStatus,
} from '@stepwise/shared';
import { ApiClient } from './api-client.js';
import { print, table } from './format.js';
import { shortVersion, versionLegend } from './version-ids.js';

/**
 * `stepwise migrate TEMPLATE --to VERSION --policy P`: moves many unfinished runs of a template onto
 * one version in one go (versions.md, "Batch migration"), or with --dry-run says what that would do.
 */

export interface MigrateOptions {
  to: string;
  /** Checked against the choices by the command line parser. */
  policy: MigrationPolicy;
  /** Checked against the choices by the command line parser. */
  status?: UnfinishedRunStatus;
  project?: string;
  fromVersion?: string;
  run?: string[];
  dryRun?: boolean;
  /** Restarted runs answer the questions that did not change with the earlier answers. */
  reuseAnswers?: boolean;
  follow: boolean;
  json?: boolean;
}

/** How often a migration's progress is read while following it. */
const POLL_MS = 500;
/** The largest page of outcomes the server gives: fewest requests to read them all. */
const OUTCOMES_PAGE = 1_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const migrationsPath = (template: string) =>
  `/v1/templates/${encodeURIComponent(template)}/migrations`;

function filterOf(options: MigrateOptions): MigrationFilter {
  const filter: MigrationFilter = {};
  if (options.status) filter.status = options.status;
  if (options.project) filter.project_name = options.project;
  if (options.fromVersion) filter.current_version_id = options.fromVersion;
  if (options.run && options.run.length > 0) filter.run_ids = options.run;
  return filter;
}

/** One run's outcome in the API's words: switched, restarted_at STEP, skipped: why, failed: why. */
function outcomeText(outcome: MigrationRunOutcome): string {
  switch (outcome.outcome) {
    case null:
      return 'not reached yet';
    case 'switched':
      return 'switched';
    case 'restarted_at':
      return `restarted_at ${outcome.restart_at ?? '?'}`;
    case 'skipped':
      return `skipped: ${outcome.reason ?? 'no reason given'}`;
    case 'failed':
      return `failed: ${outcome.reason ?? 'no reason given'}${outcome.error_code ? ` (${outcome.error_code})` : ''}`;
  }
}

function countsText(counts: MigrationCounts): string {
  const pending = counts.pending > 0 ? `, ${counts.pending} pending` : '';
  return (
    `${counts.matched} matched: ${counts.switched} switched, ${counts.restarted_at} restarted_at, ` +
    `${counts.skipped} skipped, ${counts.failed} failed${pending}`
  );
}

function printOutcomes(outcomes: readonly MigrationRunOutcome[]): void {
  if (outcomes.length === 0) return;
  for (const line of table([
    ['RUN', 'FROM', 'OUTCOME'],
    ...outcomes.map((outcome) => [
      outcome.workflow_run_id,
      shortVersion(outcome.from_version_id),
      outcomeText(outcome),
    ]),
  ]))
    print(line);
  for (const line of versionLegend(outcomes.map((outcome) => outcome.from_version_id))) print(line);
}

function printDryRun(dryRun: MigrationDryRun): void {
  print(
    `dry run, nothing changed: moving runs of ${dryRun.workflow_template_name} to ${dryRun.to_version_id} by ${dryRun.policy} would give`,
  );
  print(`  ${countsText(dryRun.counts)}`);
  printOutcomes(dryRun.outcomes);
}

/** Reads the migration until it is completed, showing how many of its runs are done. */
async function follow(
  client: ApiClient,
  path: string,
  start: MigrationView,
  quiet: boolean,
): Promise<void> {
  const live = process.stdout.isTTY && !quiet;
  let current = start;
  let shown = '';
  let polls = 0;
  for (;;) {
    const done = current.counts.matched - current.counts.pending;
    const progress = `  ${done}/${current.counts.matched} done`;
    // Every migration starts queued; one still queued at the first look after is worth a word.
    if (!quiet && polls === 1 && current.status === 'queued') {
      if (live) print(); // past the progress line written so far
      print('  queued; waiting for a runner to take it up…');
      shown = '';
    }
    // A terminal sees one line counting up; a log gets a line each time the count moves.
    if (!quiet && progress !== shown) {
      if (live) process.stdout.write(`\r${progress}`);
      else print(progress);
      shown = progress;
    }
    if (current.status === 'completed') {
      if (live) print();
      return;
    }
    await sleep(POLL_MS);
    current = (await client.request<MigrationView>('GET', `${path}?limit=1`)).body;
    polls += 1;
  }
}

/** The migration with every outcome, its pages read one after another. */
async function readWhole(client: ApiClient, path: string): Promise<MigrationView> {
  const first = (await client.request<MigrationView>('GET', `${path}?limit=${OUTCOMES_PAGE}`)).body;
  const outcomes = [...first.outcomes];
  let cursor = first.next_cursor;
  while (cursor !== null) {
    const page = (
      await client.request<MigrationView>(
        'GET',
        `${path}?${new URLSearchParams({ limit: String(OUTCOMES_PAGE), cursor }).toString()}`,
      )
    ).body;
    outcomes.push(...page.outcomes);
    cursor = page.next_cursor;
  }
  return { ...first, outcomes, next_cursor: null };
}

export async function migrate(template: string, options: MigrateOptions): Promise<void> {
  const client = await ApiClient.fromStoredLogin();
  const body: CreateMigrationBody = {
    to_version_id: options.to,
    filter: filterOf(options),
    policy: options.policy,
    dry_run: options.dryRun === true,
    ...(options.reuseAnswers === true ? { reuse_answers: true } : {}),
  };
  const response = await client.request<MigrationDryRun | MigrationView>(
    'POST',
    migrationsPath(template),
    { json: body },
    [202],
  );
  const answer = response.body;
  if ('dry_run' in answer) {
    if (options.json) print(JSON.stringify(answer, null, 2));
    else printDryRun(answer);
    return;
  }

  const path = `${migrationsPath(template)}/${encodeURIComponent(answer.migration_id)}`;
  if (!options.json)
    print(
      `migration ${answer.migration_id}: ${answer.counts.matched} run${answer.counts.matched === 1 ? '' : 's'} of ${template} to ${answer.to_version_id} by ${answer.policy}`,
    );
  if (!options.follow) {
    if (options.json) print(JSON.stringify(answer, null, 2));
    else print(`  not followed (--no-follow); its progress and outcomes: GET ${path}`);
    return;
  }
  await follow(client, path, answer, options.json === true);
  const finished = await readWhole(client, path);
  if (options.json) print(JSON.stringify(finished, null, 2));
  else {
    print(`completed: ${countsText(finished.counts)}`);
    printOutcomes(finished.outcomes);
  }
  if (finished.counts.failed > 0) {
    if (!options.json)
      print(
        `${finished.counts.failed} run${finished.counts.failed === 1 ? '' : 's'} failed to move (the reasons are above)`,
      );
    process.exitCode = 1;
  }
}
