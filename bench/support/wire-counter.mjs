// Round trips to the stores, counted on the wire: a TCP relay (a process of its own) in front of
// Redis and MongoDB that forwards every byte unchanged and counts the requests clients send, by
// command, for each client process (a connection's owner is found from its port with `ss`). The
// services need no change and pay nothing for it; the relay's own CPU is its own process's.
//   const counter = await startWireCounter({ redis: '127.0.0.1:6379', mongo: '127.0.0.1:27017' });
//   counter.ports.redis, counter.ports.mongo  → point REDIS_URL / MONGO_URL there
//   await counter.snapshot() → { [pid]: { redis: { 'get {user}': 3 }, mongo: { 'find runs': 2 } } }
import { execFile, fork } from 'node:child_process';
import { once } from 'node:events';
import { createConnection, createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const self = fileURLToPath(import.meta.url);

/** Starts the relay process; answers its ports, its pid, `snapshot()` and `close()`. */
export async function startWireCounter(targets) {
  const child = fork(self, [JSON.stringify(targets)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const [ready] = await once(child, 'message');
  let next = 0;
  const waiting = new Map();
  child.on('message', (message) => {
    waiting.get(message.id)?.(message.counts);
    waiting.delete(message.id);
  });
  return {
    ports: ready.ports,
    pid: child.pid,
    /** Requests so far, by client pid, store and command. */
    snapshot() {
      const id = ++next;
      const answer = new Promise((resolve) => waiting.set(id, resolve));
      child.send({ id });
      return answer;
    },
    async close() {
      if (child.exitCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/**
 * Counts MongoDB wire messages (OP_MSG: the command is the body's first field, the collection its
 * value when that is a string). Reads only each message's first bytes; skips the rest.
 */
export function mongoRequestParser(onCommand) {
  const empty = Buffer.alloc(0);
  let pending = empty;
  let skip = 0;
  return (chunk) => {
    let data = chunk;
    while (data.length > 0) {
      if (skip > 0) {
        const n = Math.min(skip, data.length);
        skip -= n;
        data = data.subarray(n);
        continue;
      }
      pending = pending.length ? Buffer.concat([pending, data]) : data;
      data = empty;
      if (pending.length < 4) return;
      const length = pending.readInt32LE(0);
      if (pending.length < Math.min(length, 512)) return;
      onCommand(...describeMongoMessage(pending.subarray(0, Math.min(length, pending.length))));
      if (pending.length >= length) data = pending.subarray(length);
      else skip = length - pending.length;
      pending = empty;
    }
  };
}

function describeMongoMessage(message) {
  const opCode = message.readInt32LE(12);
  if (opCode === 2004) return ['legacy OP_QUERY']; // the driver's first handshake only
  if (opCode !== 2013 || message.length < 27 || message[20] !== 0) return [`opcode ${opCode}`];
  // flags (16..19), section kind 0 at 20, its document at 21: size (4 bytes), first element's type.
  const type = message[25];
  const nameEnd = message.indexOf(0, 26);
  if (nameEnd === -1) return ['unknown'];
  const name = message.toString('latin1', 26, nameEnd);
  if (type !== 0x02 || nameEnd + 5 > message.length) return [name];
  const size = message.readInt32LE(nameEnd + 1);
  const end = nameEnd + 5 + size - 1;
  return end <= message.length ? [name, message.toString('utf8', nameEnd + 5, end)] : [name];
}

/** Commands that name no key. */
const keyless = new Set(['multi', 'exec', 'discard', 'client', 'info', 'ping', 'select', 'script']);
const channelCommands = new Set(['publish', 'subscribe', 'unsubscribe', 'psubscribe', 'spublish']);

/**
 * Which family of keys a Redis request touches, by the hash tag of its first tagged argument among
 * the first few: `{runs}` (a queue's own tag, without the namespace), `{user}` (any user's tag),
 * `untagged` (a key without one), `channel` (pub/sub); none for commands without keys.
 */
export function keyFamily(command, args) {
  if (channelCommands.has(command)) return 'channel';
  if (keyless.has(command)) return null;
  const tag = args.map((arg) => /\{([^}]+)\}/.exec(arg)?.[1]).find(Boolean);
  if (!tag) return 'untagged';
  return /(^|:)user:/.test(tag) ? '{user}' : `{${tag.split(':').pop()}}`;
}

/**
 * Counts Redis requests (RESP arrays of bulk strings), as `<command> <key family>`. A transaction
 * is one round trip: its `multi` and the commands it queues are counted as `multi` and
 * `in multi: <command> <family>`, its `exec` (or `discard`) as the trip, with the transaction's family.
 */
export function redisRequestParser(onRequest) {
  let inMulti = false;
  let multiFamily = null; // the family of a transaction's first queued command, for its exec
  const onCommand = (args) => {
    const command = args[0].toLowerCase();
    let family = keyFamily(command, args.slice(1));
    if (command === 'multi') {
      inMulti = true;
      multiFamily = null;
    } else if (command === 'exec' || command === 'discard') {
      inMulti = false;
      family = multiFamily;
    } else if (inMulti) {
      multiFamily ??= family;
      return onRequest(`in multi: ${command} ${family}`);
    }
    onRequest(family ? `${command} ${family}` : command);
  };
  const captured = 5; // the command and its first four arguments, each up to 200 bytes
  let line = '';
  let inBulk = false;
  let bulkLeft = 0; // bytes of the bulk string still to come, its CRLF included
  let captureLeft = 0;
  let argsLeft = 0;
  let args = [];
  let current = '';
  return (chunk) => {
    let at = 0;
    while (at < chunk.length) {
      if (inBulk) {
        const n = Math.min(bulkLeft, chunk.length - at);
        const take = Math.min(n, captureLeft);
        if (take > 0) current += chunk.toString('latin1', at, at + take);
        captureLeft -= take;
        bulkLeft -= n;
        at += n;
        if (bulkLeft > 0) continue;
        inBulk = false;
        if (args.length < captured) args.push(current);
        if (--argsLeft === 0) onCommand(args);
        continue;
      }
      const newline = chunk.indexOf(10, at);
      if (newline === -1) {
        line += chunk.toString('latin1', at);
        return;
      }
      const text = (line + chunk.toString('latin1', at, newline)).trimEnd();
      line = '';
      at = newline + 1;
      if (text.startsWith('*')) {
        argsLeft = Number(text.slice(1));
        args = [];
      } else if (text.startsWith('$')) {
        const length = Number(text.slice(1));
        bulkLeft = length + 2;
        captureLeft = args.length < captured ? Math.min(length, 200) : 0;
        current = '';
        inBulk = true;
      } else if (text) onCommand(text.split(' ')); // an inline command
    }
  };
}

const run = promisify(execFile);

/** The pid that owns the client end of a loopback connection to `serverPort` from `clientPort`. */
async function ownerOf(clientPort, serverPort) {
  try {
    const { stdout } = await run('ss', [
      '-tnpH',
      `( sport = :${clientPort} and dport = :${serverPort} )`,
    ]);
    return Number(/pid=(\d+)/.exec(stdout)?.[1]) || 'unknown';
  } catch {
    return 'unknown';
  }
}

async function relay() {
  const targets = JSON.parse(process.argv[2]);
  const connections = []; // { owner: Promise<pid>, store, counts: Map }
  const ports = {};
  for (const [store, target] of Object.entries(targets)) {
    const [host, port] = target.split(':');
    const server = createServer((client) => {
      client.setNoDelay(true);
      const counts = new Map();
      const count = (command, collection) => {
        const key = collection ? `${command} ${collection}` : command;
        counts.set(key, (counts.get(key) ?? 0) + 1);
      };
      connections.push({ owner: ownerOf(client.remotePort, server.address().port), store, counts });
      const upstream = createConnection({ host, port: Number(port), noDelay: true });
      const parse = store === 'mongo' ? mongoRequestParser(count) : redisRequestParser(count);
      client.on('data', (chunk) => {
        parse(chunk);
        if (!upstream.write(chunk)) client.pause();
      });
      upstream.on('drain', () => client.resume());
      upstream.pipe(client);
      const end = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on('error', end).on('close', end);
      upstream.on('error', end).on('close', end);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    ports[store] = server.address().port;
  }
  process.on('message', async ({ id }) => {
    const counts = {};
    for (const connection of connections) {
      const owner = await connection.owner;
      const byStore = (counts[owner] ??= {});
      const into = (byStore[connection.store] ??= {});
      for (const [key, n] of connection.counts) into[key] = (into[key] ?? 0) + n;
    }
    process.send({ id, counts });
  });
  process.on('disconnect', () => process.exit(0));
  process.send({ ports });
}

if (process.argv[1] === self) await relay();
