// Migration rate on the original system's own shapes (issue 24, docs/migration-original.md): for
// each generation, writes a database of N runs with the fixture generator the tests use, takes the
// same baseline as before (a plain pass over the same events with one bulk update each, what any
// migration must at least do), migrates it into a fresh target database, and prints events per
// second next to that baseline, measured in the same run.
// Needs MONGO_URL and a build (npm run build).
//   node bench/migration.mjs [--runs N] [--generation multi-user|single-user] [--out file.json]
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectMongo } from '@stepwise/shared/node';
import { writeOriginalDatabase } from '../packages/migrate/dist/original-fixture/index.js';
import { migrateOriginalDatabase } from '../packages/migrate/dist/original/migrate-original.js';

const option = (name) => {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? process.argv[at + 1] : undefined;
};
const runs = Number(option('runs')) || 10_000;
const generations = option('generation') ? [option('generation')] : ['multi-user', 'single-user'];
const out = option('out');
const base = process.env.MONGO_URL;
if (!base) throw new Error('set MONGO_URL');
const withDatabase = (name) => {
  const url = new URL(base);
  url.pathname = `/${name}`;
  return url.toString();
};

/** Touches every event of the source once with a bulk update, then takes the touch back. */
async function baseline(db) {
  const started = performance.now();
  const cursor = db
    .collection('events')
    .find({}, { projection: { _id: 1 } })
    .batchSize(5_000);
  let batch = [];
  let touched = 0;
  for await (const doc of cursor) {
    batch.push({
      updateOne: { filter: { _id: doc._id }, update: { $set: { baseline_touch: 1 } } },
    });
    if (batch.length === 1_000) {
      await db.collection('events').bulkWrite(batch, { ordered: false });
      touched += batch.length;
      batch = [];
    }
  }
  if (batch.length > 0) await db.collection('events').bulkWrite(batch, { ordered: false });
  touched += batch.length;
  const seconds = (performance.now() - started) / 1000;
  await db.collection('events').updateMany({}, { $unset: { baseline_touch: '' } });
  return { touched, seconds };
}

const results = [];
for (const generation of generations) {
  const suffix = randomBytes(4).toString('hex');
  const source = await connectMongo(withDatabase(`bench_original_${suffix}`));
  const target = await connectMongo(withDatabase(`bench_target_${suffix}`));
  const mediaDir = await mkdtemp(join(tmpdir(), 'bench-original-media-'));
  try {
    const generatedAt = performance.now();
    const fixture = await writeOriginalDatabase(source.db, {
      generation,
      runs,
      seed: 'bench-migration',
      mediaDir,
    });
    const generateSeconds = (performance.now() - generatedAt) / 1000;
    const touch = await baseline(source.db);
    const started = performance.now();
    const report = await migrateOriginalDatabase(source, target, {
      defaultUsername: 'admin',
      mediaBase: mediaDir,
      originalMediaBase: null,
      pageSize: 1_000,
      progress: () => undefined,
    });
    const seconds = (performance.now() - started) / 1000;
    const rate = report.runs.events / seconds;
    const baselineRate = touch.touched / touch.seconds;
    const line = {
      generation,
      runs,
      runs_migrated: report.runs.runs,
      events: report.runs.events,
      fixture_events: fixture.events,
      usage_records: report.usage.records,
      files: report.files.workflow_files + report.files.media_files,
      generate_seconds: Math.round(generateSeconds * 100) / 100,
      migration_seconds: Math.round(seconds * 100) / 100,
      events_per_second: Math.round(rate),
      baseline_events_per_second: Math.round(baselineRate),
      ratio: Math.round((rate / baselineRate) * 100) / 100,
    };
    console.log(JSON.stringify(line));
    results.push(line);
  } finally {
    await source.dropDatabase();
    await target.dropDatabase();
    await source.close();
    await target.close();
    await rm(mediaDir, { recursive: true, force: true });
  }
}
if (out)
  await writeFile(out, `${JSON.stringify({ at: new Date().toISOString(), results }, null, 2)}\n`);
process.exit(0);
