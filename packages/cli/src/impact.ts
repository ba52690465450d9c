import type { ImpactReport, RunImpact } from '@stepwise/shared';
import { ApiClient, CliError } from './api-client.js';
import { positionOf, print, table } from './format.js';
import { shortVersion, versionLegend } from './version-ids.js';

/**
 * `stepwise impact TEMPLATE VERSION`: which unfinished runs of the template another version
 * touches, and how (versions.md, "Impact report"), one line per run with a plain verdict.
 */

export interface ImpactOptions {
  status?: string;
  project?: string;
  fromVersion?: string;
  limit?: string;
  all?: boolean;
  json?: boolean;
}

const impactPath = (template: string, versionId: string) =>
  `/v1/templates/${encodeURIComponent(template)}/versions/${encodeURIComponent(versionId)}/impact`;

/** What moving the run onto the version means for it, in a few words. */
export function verdictOf(item: RunImpact): string {
  const restart = item.suggested_restart_at
    ? `: restart at ${item.suggested_restart_at} suggested`
    : '';
  let verdict: string;
  if (item.continue_without_restart) verdict = 'continues as is';
  else if (!item.changes.position_exists) verdict = `position missing in this version${restart}`;
  else if (item.behind_position.length > 0) verdict = `changes behind its position${restart}`;
  // Neither gone nor passed, yet continuing is not enough: the server's own words say why.
  else verdict = item.warning ?? 'needs a choice before it can move';
  return item.pending_request_changes ? `${verdict}; its question changes` : verdict;
}

function rowsOf(items: readonly RunImpact[]): string[] {
  return table([
    ['RUN', 'STATUS', 'VERSION', 'POSITION', 'BEFORE/AT/AFTER', 'VERDICT'],
    ...items.map((item) => [
      item.workflow_run_id,
      item.status,
      shortVersion(item.current_version_id),
      positionOf(item.position?.step_id ?? null, item.position?.module_name ?? null),
      `${item.counts.before}/${item.counts.at}/${item.counts.after}`,
      verdictOf(item),
    ]),
  ]);
}

export async function impact(
  template: string,
  versionId: string,
  options: ImpactOptions,
): Promise<void> {
  const limit = Number(options.limit ?? '20');
  if (!Number.isInteger(limit) || limit < 1 || limit > 100)
    throw new CliError('--limit wants a whole number from 1 to 100');
  const client = await ApiClient.fromStoredLogin();
  const query: Record<string, string> = { limit: String(limit) };
  if (options.status) query['status'] = options.status;
  if (options.project) query['project_name'] = options.project;
  if (options.fromVersion) query['current_version_id'] = options.fromVersion;

  const read = async (cursor: string | null): Promise<ImpactReport> =>
    (
      await client.request<ImpactReport>(
        'GET',
        `${impactPath(template, versionId)}?${new URLSearchParams(
          cursor === null ? query : { ...query, cursor },
        ).toString()}`,
      )
    ).body;

  const report = await read(null);
  const items = [...report.items];
  let nextCursor = report.next_cursor;
  while (options.all && nextCursor !== null) {
    const page = await read(nextCursor);
    items.push(...page.items);
    nextCursor = page.next_cursor;
  }

  if (options.json) {
    // With --all, every page as one: the report's own shape, ending where the pages ended.
    print(JSON.stringify({ ...report, items, next_cursor: nextCursor }, null, 2));
    return;
  }
  if (items.length === 0) {
    print(`no unfinished runs of ${template} on another version match`);
    return;
  }
  print(
    `${items.length} unfinished run${items.length === 1 ? '' : 's'} of ${template} against ${versionId}:`,
  );
  for (const line of rowsOf(items)) print(line);
  for (const line of versionLegend(items.map((item) => item.current_version_id))) print(line);
  if (nextCursor !== null)
    print(
      `more runs follow: add --all to list them all${limit < 100 ? ' (or --limit up to 100 for longer pages)' : ''}`,
    );
}
