#!/usr/bin/env node
import { Command, InvalidArgumentError } from 'commander';
import { connectMongo } from '@stepwise/shared/node';
import { migrateOriginalDatabase } from './original/migrate-original.js';

const program = new Command()
  .name('stepwise-migrate-original')
  .description(
    'Migrate a database of the original system (either generation) into a Stepwise database. The source is only read.',
  )
  .requiredOption('--source-url <url>', "the original system's database (mongodb://…/name)")
  .requiredOption('--target-url <url>', 'the Stepwise database to write (mongodb://…/name)')
  .option('--default-username <name>', 'owner of everything in a single-user database', 'admin')
  .option('--media-base <dir>', "the original's MEDIA_BASE_PATH as mounted on this machine")
  .option(
    '--original-media-base <dir>',
    'the base the original wrote into absolute media paths (e.g. /mnt/g/wm), re-rooted onto --media-base',
  )
  .option(
    '--page-size <n>',
    'runs read per page (1 or more)',
    (value) => {
      const size = Number.parseInt(value, 10);
      if (!Number.isInteger(size) || size < 1)
        throw new InvalidArgumentError('must be a whole number of 1 or more');
      return size;
    },
    1_000,
  );

const options = program.parse().opts<{
  sourceUrl: string;
  targetUrl: string;
  defaultUsername: string;
  mediaBase?: string;
  originalMediaBase?: string;
  pageSize: number;
}>();
const source = await connectMongo(options.sourceUrl, { serverSelectionTimeoutMs: 10_000 });
const target = await connectMongo(options.targetUrl, { serverSelectionTimeoutMs: 10_000 });
try {
  const started = performance.now();
  const report = await migrateOriginalDatabase(source, target, {
    defaultUsername: options.defaultUsername,
    mediaBase: options.mediaBase ?? null,
    originalMediaBase: options.originalMediaBase ?? null,
    pageSize: options.pageSize,
    progress: (line) => process.stderr.write(`[migrate-original] ${line}\n`),
  });
  const seconds = (performance.now() - started) / 1000;
  process.stdout.write(
    `${JSON.stringify({ ...report, seconds: Math.round(seconds * 100) / 100 })}\n`,
  );
} finally {
  await source.close();
  await target.close();
}
