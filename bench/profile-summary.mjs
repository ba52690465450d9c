// The top frames of a V8 CPU profile (`node --cpu-prof`), by self time and by total time, so the
// benchmark notes can say where the time goes without a browser.
//   node bench/profile-summary.mjs <file.cpuprofile> [--top N]
import { readFileSync } from 'node:fs';

const file = process.argv[2];
if (!file) {
  console.error('usage: node bench/profile-summary.mjs <file.cpuprofile> [--top N]');
  process.exit(2);
}
const top = Number(process.argv[process.argv.indexOf('--top') + 1]) || 20;
const profile = JSON.parse(readFileSync(file, 'utf8'));

const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
const parentOf = new Map();
for (const n of profile.nodes) for (const child of n.children ?? []) parentOf.set(child, n.id);

// Each sample is one interval spent in a node; time deltas say how long.
const selfTime = new Map();
profile.samples.forEach((id, i) => {
  selfTime.set(id, (selfTime.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
});
const total = [...selfTime.values()].reduce((a, b) => a + b, 0);

const frameName = (n) => {
  const { functionName, url, lineNumber } = n.callFrame;
  const where = url
    ? url.replace(/^.*\/node_modules\//, '').replace(/^file:\/\/.*?\/(services|packages)\//, '$1/')
    : '';
  return `${functionName || '(anonymous)'} ${where}${where ? `:${lineNumber + 1}` : ''}`;
};

const bySelf = new Map();
const byTotal = new Map();
for (const [id, time] of selfTime) {
  const name = frameName(nodes.get(id));
  bySelf.set(name, (bySelf.get(name) ?? 0) + time);
  // Inclusive time: every distinct frame on the stack gets the sample once.
  const seen = new Set();
  for (let at = id; at !== undefined; at = parentOf.get(at)) {
    const frame = frameName(nodes.get(at));
    if (seen.has(frame)) continue;
    seen.add(frame);
    byTotal.set(frame, (byTotal.get(frame) ?? 0) + time);
  }
}

const print = (title, map) => {
  console.log(`\n${title}`);
  for (const [name, time] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top))
    console.log(
      `${((time / total) * 100).toFixed(1).padStart(5)}%  ${(time / 1000).toFixed(0).padStart(6)} ms  ${name}`,
    );
};
console.log(`${file}: ${(total / 1000).toFixed(0)} ms sampled`);
print('self time', bySelf);
print('total time', byTotal);

// --via PATTERN: for samples under a frame matching PATTERN, the nearest frames of our own code
// (services/ or packages/) that led there.
const via = process.argv.includes('--via') ? process.argv[process.argv.indexOf('--via') + 1] : null;
if (via) {
  const callers = new Map();
  let matched = 0;
  for (const [id, time] of selfTime) {
    const stack = [];
    for (let at = id; at !== undefined; at = parentOf.get(at)) stack.push(frameName(nodes.get(at)));
    if (!stack.some((f) => f.includes(via))) continue;
    matched += time;
    const ours = stack
      .filter((f) => /^\S+ (services|packages)\//.test(f))
      .slice(0, 3)
      .join(' < ');
    callers.set(ours, (callers.get(ours) ?? 0) + time);
  }
  print(`under '${via}' (${(matched / 1000).toFixed(0)} ms), by our nearest frames`, callers);
}

// Self time by package (node_modules package, node internals, our workspaces), to see which layer
// the time goes to.
const layer = (n) => {
  const url = n.callFrame.url;
  if (!url) return n.callFrame.functionName.startsWith('(') ? n.callFrame.functionName : '(native)';
  const pkg = /node_modules\/((@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1];
  if (url.startsWith('node:')) return 'node internals';
  const ours = /\/(services|packages)\/([^/]+)\//.exec(url);
  return ours ? `${ours[1]}/${ours[2]}` : url;
};
const byLayer = new Map();
for (const [id, time] of selfTime) {
  const name = layer(nodes.get(id));
  byLayer.set(name, (byLayer.get(name) ?? 0) + time);
}
print('self time by layer', byLayer);
