// Migration rate: generates a legacy database of about 100,000 events (the seeded generator the
// tests use), migrates it, and prints events per second next to a same-run baseline: a plain
// pass over the same events with one bulk update each (what any in-place migration must at least
// do). Needs MONGO_URL and a build (npm run build).  node bench/migration.mjs [--runs N]
import { randomBytes } from 'node:crypto';
import { connectMongo } from '@stepwise/shared/node';
import { generateLegacyDatabase } from '../packages/migrate/dist/legacy-generator.js';
import { migrateLegacyDatabase } from '../packages/migrate/dist/migrate.js';

const runs = Number(process.argv[process.argv.indexOf('--runs') + 1]) || 5_000;
const base = process.env.MONGO_URL;
if (!base) throw new Error('set MONGO_URL');
const withDatabase = (name) => {
  const url = new URL(base);
  url.pathname = `/${name}`;
  return url.toString();
};

const suffix = randomBytes(4).toString('hex');
const legacy = await connectMongo(withDatabase(`bench_migration_${suffix}`));
const generated = await generateLegacyDatabase(legacy.db, { seed: 1, runs });
console.log(`generated ${runs} runs, ${generated.events} events`);

// Baseline: touch every event once with a bulk update, nothing else.
const started = performance.now();
const cursor = legacy.db
  .collection('events')
  .find({}, { projection: { _id: 1 } })
  .batchSize(5_000);
let batch = [];
let touched = 0;
for await (const doc of cursor) {
  batch.push({ updateOne: { filter: { _id: doc._id }, update: { $set: { baseline_touch: 1 } } } });
  if (batch.length === 1_000) {
    await legacy.db.collection('events').bulkWrite(batch, { ordered: false });
    touched += batch.length;
    batch = [];
  }
}
if (batch.length > 0) await legacy.db.collection('events').bulkWrite(batch, { ordered: false });
touched += batch.length;
const baselineSeconds = (performance.now() - started) / 1000;
await legacy.db.collection('events').updateMany({}, { $unset: { baseline_touch: '' } });

const migrationStarted = performance.now();
const report = await migrateLegacyDatabase(legacy, {
  dryRun: false,
  defaultUsername: 'admin',
  dropLegacy: false,
  batchSize: 500,
  progress: () => undefined,
});
const migrationSeconds = (performance.now() - migrationStarted) / 1000;
const rate = report.counts.events_migrated / migrationSeconds;
const baselineRate = touched / baselineSeconds;
console.log(
  JSON.stringify({
    runs,
    events: report.counts.events_migrated,
    migration_seconds: migrationSeconds,
    events_per_second: Math.round(rate),
    baseline_events_per_second: Math.round(baselineRate),
    ratio: Math.round((rate / baselineRate) * 100) / 100,
  }),
);
await legacy.dropDatabase();
await legacy.close();
process.exit(0);
