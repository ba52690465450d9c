// What one MongoDB command costs the stand-in, in its own CPU (from /proc), by kind: the
// single-document commands a run needs, and one insertMany of a run's events. Issue 23 used it to
// show where the engine's time goes (docs/performance.md). Start a stand-in of its own first:
//   java -cp 'tools/mongo-stand-in/target/mongo-stand-in-1.0.0.jar:tools/mongo-stand-in/target/lib/*' \
//     dev.stepwise.mongo.MongoStandIn --port 37097 &
//   node bench/stand-in-command-cost.mjs 37097 <its pid>
import { readFileSync } from 'node:fs';
import { MongoClient } from 'mongodb';

const [port, pid] = process.argv.slice(2);
if (!port || !pid) throw new Error('usage: node bench/stand-in-command-cost.mjs <port> <pid>');
const ticksPerSecond = 100;
const cpuSeconds = () => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
};
const client = new MongoClient(`mongodb://127.0.0.1:${port}`);
await client.connect();
const db = client.db(`command_cost_${Date.now()}`);
const runs = db.collection('runs');
await runs.createIndex({ user_id: 1, workflow_run_id: 1 }, { unique: true });
const count = 4_000;
const runDocument = (id) => ({
  user_id: 'u',
  workflow_run_id: id,
  lease_fence: 1,
  last_seq: 0,
  snapshot: { a: 1, b: [1, 2, 3] },
});
await runs.insertMany(Array.from({ length: 3_000 }, (_, i) => runDocument(`old${i}`)));

/** `count` commands, 8 in flight (the runner's concurrency); the stand-in's CPU per command. */
async function measure(label, command) {
  const before = cpuSeconds();
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < count) await command(next++);
    }),
  );
  const cpu = Math.round(((cpuSeconds() - before) * 1e6) / count);
  const wall = Math.round(((performance.now() - started) * 1000) / count);
  console.log(`${label.padEnd(44)} stand-in CPU ${cpu} µs/command, wall ${wall} µs/command`);
}

// Once unmeasured, so that the JVM has compiled the paths before the figures.
for (const round of ['warm-up', 'measured']) {
  const say = (label) => (round === 'warm-up' ? `(warm-up) ${label}` : label);
  const tag = `${round}-`;
  await measure(say('insertOne of a run'), (i) => runs.insertOne(runDocument(`${tag}${i}`)));
  await measure(say('findOne by its unique key'), (i) =>
    runs.findOne({ user_id: 'u', workflow_run_id: `${tag}${i}` }),
  );
  await measure(say('updateOne by unique key + conditions'), (i) =>
    runs.updateOne(
      { user_id: 'u', workflow_run_id: `${tag}${i}`, lease_fence: 1, last_seq: 0 },
      { $set: { last_seq: 46, note: 'x'.repeat(200) } },
    ),
  );
  const events = db.collection(`events_${round}`);
  await events.createIndex({ workflow_run_id: 1, seq: 1 }, { unique: true });
  await events.createIndex({ workflow_run_id: 1, event_id: 1 }, { unique: true });
  await measure(say("insertMany of a run's 46 events"), (i) =>
    events.insertMany(
      Array.from({ length: 46 }, (_, seq) => ({
        workflow_run_id: `r${i}`,
        seq: seq + 1,
        event_id: `e${i}_${seq}`,
        event_type: 'module_completed',
        data: { value: 'x' },
      })),
    ),
  );
}
await db.dropDatabase();
await client.close();
