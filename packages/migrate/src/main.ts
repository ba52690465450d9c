#!/usr/bin/env node
import { Command } from 'commander';
import { connectMongo } from '@stepwise/shared/node';
import { migrateLegacyDatabase } from './migrate.js';

const program = new Command()
  .name('stepwise-migrate')
  .description('Move a single-user Stepwise database to the multi-tenant schema, in place.')
  .requiredOption('--mongo-url <url>', 'the database to migrate (mongodb://…/name)')
  .option('--dry-run', 'report what would change, write nothing', false)
  .option('--default-username <name>', 'the user that receives every existing template', 'admin')
  .option('--drop-legacy', 'drop the old `workflows` collection once every run is verified', false)
  .option('--batch-size <n>', 'runs per progress line', (value) => Number.parseInt(value, 10), 100);

const options = program.parse().opts<{
  mongoUrl: string;
  dryRun: boolean;
  defaultUsername: string;
  dropLegacy: boolean;
  batchSize: number;
}>();
const connection = await connectMongo(options.mongoUrl, { serverSelectionTimeoutMs: 10_000 });
try {
  const started = performance.now();
  const report = await migrateLegacyDatabase(connection, {
    dryRun: options.dryRun,
    defaultUsername: options.defaultUsername,
    dropLegacy: options.dropLegacy,
    batchSize: options.batchSize,
    progress: (line) => process.stderr.write(`[migrate] ${line}\n`),
  });
  const seconds = (performance.now() - started) / 1000;
  process.stdout.write(
    `${JSON.stringify({ ...report, seconds: Math.round(seconds * 100) / 100 })}\n`,
  );
} finally {
  await connection.close();
}
