import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import mongoose from 'mongoose';
import { freePort } from './support/ports.js';

/**
 * The stand-in's file store (the local stack's MongoDB, issue 16) keeps every write it has
 * acknowledged, even when the process is killed the instant after: the runner counts on an
 * acknowledged event being there after a crash. MVStore alone commits about once a second, so
 * without a commit per write this test loses the last writes.
 */

const { MongoClient } = mongoose.mongo;
const repoRoot = new URL('..', import.meta.url).pathname;
const standIn = execFileSync('bash', ['scripts/local-services.sh', 'stand-in-command'], {
  cwd: repoRoot,
  encoding: 'utf8',
})
  .trim()
  .split(' ');
const dataFile = join(mkdtempSync(join(tmpdir(), 'stepwise-stand-in-')), 'mongo.mv.db');
const started: ChildProcess[] = [];
afterAll(() => {
  for (const child of started) if (child.exitCode === null) child.kill('SIGKILL');
});

async function startStandIn(port: number): Promise<ChildProcess> {
  const [command = 'java', ...args] = standIn;
  // The command line names the class path with a `*`: a shell would expand it, java must not see
  // it expanded, so it is passed as one argument here exactly as printed.
  const child = spawn(command, [...args, '--port', String(port), '--data-file', dataFile], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.push(child);
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      if (chunk.toString().includes('mongo-stand-in listening')) resolve();
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`stand-in exited (${code})`)));
  });
  return child;
}

async function killed(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

describe('the MongoDB stand-in with a data file', () => {
  it('keeps every acknowledged write when killed right after it', async () => {
    const port = await freePort();
    let server = await startStandIn(port);
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

    server = await startStandIn(port);
    client = await MongoClient.connect(`mongodb://127.0.0.1:${port}`, { directConnection: true });
    const reopened = client.db('stepwise').collection<{ _id: number; last?: boolean }>('events');
    expect(await reopened.countDocuments()).toBe(written);
    expect((await reopened.findOne({ _id: written - 1 }))?.last).toBe(true);
    await client.close();
    await killed(server);
  }, 120_000);
});
