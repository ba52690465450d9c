import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import mongoose from 'mongoose';
import { freePort } from './support/ports.js';
import { killStandIn, startStandIn } from './support/stand-in.js';

/**
 * The stand-in's file store (the local stack's MongoDB, issue 16) keeps every write it has
 * acknowledged, even when the process is killed the instant after: the runner counts on an
 * acknowledged event being there after a crash. MVStore alone commits about once a second, so
 * without a commit per write this test loses the last writes.
 */

const { MongoClient } = mongoose.mongo;
const dataFile = join(mkdtempSync(join(tmpdir(), 'stepwise-stand-in-')), 'mongo.mv.db');
const killed = killStandIn;

describe('the MongoDB stand-in with a data file', () => {
  it('keeps every acknowledged write when killed right after it', async () => {
    const port = await freePort();
    let server = await startStandIn(port, { dataFile });
    let client = await MongoClient.connect(`mongodb://127.0.0.1:${port}`, {
      directConnection: true,
    });
    const written = 200;
    const events = client.db('stepwise').collection<{ _id: number; seq: number }>('events');
    for (let seq = 0; seq < written; seq += 1) await events.insertOne({ _id: seq, seq });
    await events.updateOne({ _id: written - 1 }, { $set: { last: true } });
    // No pause: SIGKILL the moment the last write was acknowledged.
    await killed(server);
    await client.close(true);

    server = await startStandIn(port, { dataFile });
    client = await MongoClient.connect(`mongodb://127.0.0.1:${port}`, { directConnection: true });
    const reopened = client.db('stepwise').collection<{ _id: number; last?: boolean }>('events');
    expect(await reopened.countDocuments()).toBe(written);
    expect((await reopened.findOne({ _id: written - 1 }))?.last).toBe(true);
    await client.close();
    await killed(server);
  }, 120_000);
});
