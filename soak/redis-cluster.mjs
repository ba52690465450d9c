// The cluster soak's Redis: a real Redis Cluster (three masters, a replica each) made by
// scripts/redis-cluster.sh on a port range of the soak's own, state in the soak's folder. The
// soak kills masters with SIGKILL (a replica takes over within seconds) and starts the killed node
// again on its port, folder and nodes file, where it rejoins as a replica of its replacement, so
// that every master keeps a replica for the next kill.
import { execFile, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';

const root = new URL('..', import.meta.url).pathname;
const run = promisify(execFile);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** One line of CLUSTER NODES, parsed. */
function parseNode(line) {
  const [id, address, flags, master, , , epoch, link, ...slots] = line.trim().split(' ');
  return {
    id,
    port: Number(address.split('@')[0].split(':')[1]),
    flags: flags.split(','),
    master: master === '-' ? null : master,
    epoch: Number(epoch),
    connected: link === 'connected',
    slots: slots.filter((s) => !s.startsWith('[')),
  };
}

export class RedisCluster {
  constructor({ dir, basePort, nodeTimeoutMs = 2000 }) {
    this.basePort = basePort;
    this.ports = Array.from({ length: 6 }, (_, i) => basePort + i);
    this.nodeTimeoutMs = nodeTimeoutMs;
    this.env = {
      ...process.env,
      REDIS_CLUSTER_PORT: String(basePort),
      STEPWISE_LOCAL_DIR: dir,
      REDIS_CLUSTER_NODE_TIMEOUT_MS: String(nodeTimeoutMs),
    };
    this.stateDir = `${dir}/redis-cluster`;
    /** Nodes this soak killed and has not started again. */
    this.down = new Set();
  }

  /** Starts the cluster; answers its REDIS_URL (three seeds). */
  start() {
    const out = execFileSync('bash', ['scripts/redis-cluster.sh', 'start'], {
      cwd: root,
      env: this.env,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const url = /^REDIS_URL=(.+)$/m.exec(out)?.[1];
    if (!url) throw new Error(`redis-cluster.sh start printed no REDIS_URL:\n${out}`);
    this.url = url;
    return url;
  }

  /** Stops every node (synchronously, so that it can run in an exit handler). */
  stop() {
    try {
      execFileSync('bash', ['scripts/redis-cluster.sh', 'stop'], {
        cwd: root,
        env: this.env,
        stdio: 'ignore',
      });
    } catch {
      // Already gone.
    }
  }

  async cli(port, ...args) {
    const { stdout } = await run('redis-cli', ['-p', String(port), ...args], { timeout: 5_000 });
    return stdout;
  }

  /** CLUSTER NODES as seen by the first live node that answers. */
  async nodes() {
    for (const port of this.ports) {
      if (this.down.has(port)) continue;
      try {
        const out = await this.cli(port, 'cluster', 'nodes');
        if (out.trim()) return out.trim().split('\n').map(parseNode);
      } catch {
        // Try the next node.
      }
    }
    throw new Error('no cluster node answers CLUSTER NODES');
  }

  /** Every live node says `cluster_state:ok`. */
  async ok() {
    for (const port of this.ports) {
      if (this.down.has(port)) continue;
      const info = await this.cli(port, 'cluster', 'info').catch(() => '');
      if (!/^cluster_state:ok/m.test(info)) return false;
    }
    return true;
  }

  async waitFor(what, test, timeoutMs = 60_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (await test().catch(() => false)) return;
      if (Date.now() > deadline) throw new Error(`redis cluster: ${what} within ${timeoutMs} ms`);
      await sleep(200);
    }
  }

  /** Whether the replica on `port` has a working link to its master. */
  async linked(port) {
    const info = await this.cli(port, 'info', 'replication');
    return /^role:slave/m.test(info) && /^master_link_status:up/m.test(info);
  }

  /**
   * Kills a master that holds slots and has a linked replica, with SIGKILL; waits until its
   * slots are served by another node (the replica took over) and the cluster is ok. Answers what
   * happened: the port killed, its slots, the port that took over and how long that took.
   * `onKill(time)` hears of the kill as it happens.
   */
  async killMaster(random, onKill = () => undefined) {
    const nodes = await this.nodes();
    const candidates = [];
    for (const node of nodes) {
      if (!node.flags.includes('master') || node.flags.some((f) => f.includes('fail'))) continue;
      if (node.slots.length === 0) continue;
      const replicas = nodes.filter(
        (r) => r.master === node.id && !r.flags.some((f) => f.includes('fail')) && r.connected,
      );
      let linked = false;
      for (const r of replicas) linked ||= await this.linked(r.port).catch(() => false);
      if (linked) candidates.push(node);
    }
    if (candidates.length === 0) throw new Error('no master with a linked replica to kill');
    const victim = candidates[Math.floor(random() * candidates.length)];
    const pid = Number(readFileSync(`${this.stateDir}/${victim.port}.pid`, 'utf8').trim());
    const killedAt = Date.now();
    process.kill(pid, 'SIGKILL');
    this.down.add(victim.port);
    onKill(killedAt);
    let successor = null;
    await this.waitFor('no replica took over the killed master', async () => {
      const now = await this.nodes();
      const owner = now.find(
        (n) =>
          n.id !== victim.id &&
          n.flags.includes('master') &&
          !n.flags.some((f) => f.includes('fail')) &&
          n.slots.join(' ') === victim.slots.join(' '),
      );
      if (!owner) return false;
      successor = owner.port;
      return this.ok();
    });
    return {
      port: victim.port,
      slots: victim.slots.join(' '),
      successor,
      failover_ms: Date.now() - killedAt,
    };
  }

  /**
   * Starts a killed node again, as scripts/redis-cluster.sh started it (same port, folder and
   * nodes file, in memory): it rejoins as a replica of the node that took its slots. Waits until
   * its replication link is up and the cluster is ok; answers how long that took. One difference:
   * its own RDB file name. The script's nodes share one folder and so one `dump.rdb`, which a
   * replica's full sync writes; a node started on it would load another shard's keys first.
   */
  async restartNode(port) {
    const began = Date.now();
    const dir = this.stateDir;
    execFileSync('redis-server', [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--cluster-enabled',
      'yes',
      '--cluster-config-file',
      `nodes-${port}.conf`,
      '--cluster-node-timeout',
      String(this.nodeTimeoutMs),
      '--save',
      '',
      '--appendonly',
      'no',
      '--dbfilename',
      `dump-${port}.rdb`,
      '--dir',
      dir,
      '--daemonize',
      'yes',
      '--pidfile',
      `${dir}/${port}.pid`,
      '--logfile',
      `${dir}/${port}.log`,
    ]);
    this.down.delete(port);
    await this.waitFor(`node ${port} did not rejoin as a linked replica`, async () => {
      return (await this.linked(port)) && (await this.ok());
    });
    return Date.now() - began;
  }

  /** Starts every node this soak killed and has not started yet. */
  async restartAll() {
    for (const port of [...this.down]) await this.restartNode(port);
    await this.waitFor('the cluster is not ok', () => this.ok());
  }

  /** Which port serves which slots, for the report: `{port: 'slots'}` for the masters. */
  async masters() {
    const nodes = await this.nodes();
    return Object.fromEntries(
      nodes
        .filter((n) => n.flags.includes('master') && n.slots.length > 0)
        .map((n) => [n.port, n.slots.join(' ')]),
    );
  }
}
