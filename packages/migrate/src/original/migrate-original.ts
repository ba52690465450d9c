import type { Connection, mongo } from 'mongoose';
import { createModels, ensureIndexes } from '@stepwise/shared/node';
import { migrateAccounts, type AccountReport } from './accounts.js';
import { migrateCatalog, type CatalogReport } from './catalog.js';
import { migrateFiles, type FilesReport } from './files.js';
import { migrateHistory, type HistoryReport } from './history.js';
import { migrateRuns, type RunsReport } from './runs.js';
import type { OriginalGeneration, OriginalUser } from './source-records.js';
import { migrateUsage, type UsageReport } from './usage.js';

/**
 * Migrates a database of the original system into a Stepwise database (legacy.md, "What real
 * installations hold"; docs/migration-original.md). The source is only read. Everything written
 * is named from what it migrates, so a run killed at any point and started again ends in the same
 * target database as one uninterrupted run, and a second run adds nothing.
 */

export interface OriginalMigrationOptions {
  /** The owner of everything in a single-user database. */
  defaultUsername: string;
  /** The original's MEDIA_BASE_PATH as it is on this machine (where media files are read). */
  mediaBase: string | null;
  /** The base the original wrote into absolute paths (before its m_11), re-rooted onto mediaBase. */
  originalMediaBase: string | null;
  /** Runs read per page. */
  pageSize: number;
  progress: (line: string) => void;
}

export interface OriginalMigrationReport {
  generation: OriginalGeneration;
  /** What the generation was told by. */
  detected_by: string;
  accounts: AccountReport;
  catalog: CatalogReport;
  runs: RunsReport;
  usage: UsageReport;
  files: FilesReport;
  history: HistoryReport;
  /** Collections of the source this migration does not carry (and why), by name. */
  not_carried: Record<string, string>;
}

/** Collections the migration reads, or knowingly leaves behind with the reason. */
const leftBehind: Record<string, string> = {
  refresh_tokens: 'web sessions: people sign in again',
  invitation_codes: 'Stepwise invitations are made anew by its admins',
  schema_migrations: "the original's own migration record",
  task_queue: "the original's worker queue: nothing in it can run here",
  content_generation_metadata: 'provider requests; their files are migrated from generated_content',
  workflow_run_version_history: "a run's current version is kept on the run",
  config: "the original's module settings (db.query tables): no equivalent",
  table_schemas: "the original's db.query table schemas: no equivalent",
};

/** Which generation the source is (research §1): the multi-user one has users and `workflow_runs`. */
export async function detectGeneration(
  source: mongo.Db,
): Promise<{ generation: OriginalGeneration; detected_by: string }> {
  const names = new Set((await source.listCollections().toArray()).map((c) => c.name));
  const has = async (name: string) =>
    names.has(name) && (await source.collection(name).estimatedDocumentCount()) > 0;
  if ((await has('workflow_runs')) || (await has('users')))
    return { generation: 'multi-user', detected_by: 'users / workflow_runs hold documents' };
  if ((await has('workflows')) || (await has('workflow_templates')))
    return {
      generation: 'single-user',
      detected_by: 'workflows / workflow_templates without users',
    };
  throw new Error(
    "the source database holds none of the original system's collections (workflows, workflow_runs, users, workflow_templates)",
  );
}

export async function migrateOriginalDatabase(
  source: Connection,
  target: Connection,
  options: OriginalMigrationOptions,
): Promise<OriginalMigrationReport> {
  const sourceDb = source.db;
  const targetDb = target.db;
  if (!sourceDb || !targetDb) throw new Error('MongoDB connection is not open');
  if (sourceDb.databaseName === targetDb.databaseName && source.host === target.host)
    throw new Error(
      'the source and target are the same database: the migration never writes in place',
    );
  // The same database under another host name (localhost, 127.0.0.1) passes the check above; a
  // target that holds the original's own collections is refused as well.
  const targetNames = new Set((await targetDb.listCollections().toArray()).map((c) => c.name));
  for (const name of ['schema_migrations', 'workflows', 'generated_content'])
    if (targetNames.has(name))
      throw new Error(
        `the target holds the original system's \`${name}\` collection: give an empty or Stepwise database as the target; the migration never writes in place`,
      );
  const { generation, detected_by } = await detectGeneration(sourceDb);
  options.progress(`source is the ${generation} generation (${detected_by})`);
  // The target's indexes first: its unique keys are what keep a rerun from writing twice.
  await ensureIndexes(createModels(target));

  const earliestTemplate = await sourceDb
    .collection('workflow_templates')
    .find({}, { projection: { created_at: 1 } })
    .sort({ created_at: 1 })
    .limit(1)
    .next();
  const earliest =
    earliestTemplate?.['created_at'] instanceof Date ? earliestTemplate['created_at'] : new Date(0);
  const accounts = await migrateAccounts(
    sourceDb,
    targetDb,
    generation,
    options.defaultUsername,
    earliest,
  );
  options.progress(`users ${accounts.report.users}, keys ${accounts.report.access_keys}`);
  const globalOwner =
    generation === 'multi-user' ? await firstAdmin(sourceDb, accounts.userIds) : null;
  const catalog = await migrateCatalog(sourceDb, targetDb, {
    defaultUserId: accounts.defaultUserId,
    userIds: accounts.userIds,
    globalOwner,
  });
  options.progress(`templates ${catalog.report.templates}, versions ${catalog.report.versions}`);
  const runs = await migrateRuns(sourceDb, targetDb, {
    generation,
    defaultUserId: accounts.defaultUserId,
    userIds: accounts.userIds,
    catalog,
    pageSize: options.pageSize,
    progress: options.progress,
  });
  const usage = await migrateUsage(sourceDb, targetDb, runs.runOwners);
  options.progress(`usage records ${usage.records}`);
  const files = await migrateFiles(sourceDb, targetDb, runs.runOwners, {
    base: options.mediaBase,
    originalBase: options.originalMediaBase,
  });
  options.progress(`files ${files.workflow_files}, media ${files.media_files}`);
  const history = await migrateHistory(sourceDb, targetDb, catalog.templates);

  const present = new Set((await sourceDb.listCollections().toArray()).map((c) => c.name));
  const not_carried = Object.fromEntries(
    Object.entries(leftBehind).filter(([name]) => present.has(name)),
  );
  options.progress('migration complete');
  return {
    generation,
    detected_by,
    accounts: accounts.report,
    catalog: catalog.report,
    runs: runs.report,
    usage,
    files,
    history,
    not_carried,
  };
}

/** Who owns the original's global templates here: its first admin, else its first user. */
async function firstAdmin(source: mongo.Db, userIds: ReadonlySet<string>): Promise<string | null> {
  const users = (await source
    .collection('users')
    .find({}, { projection: { user_id: 1, role: 1, created_at: 1 } })
    .sort({ created_at: 1, user_id: 1 })
    .toArray()) as unknown as Pick<OriginalUser, 'user_id' | 'role'>[];
  const known = users.filter((user) => userIds.has(user.user_id));
  return (known.find((user) => user.role === 'admin') ?? known[0])?.user_id ?? null;
}
