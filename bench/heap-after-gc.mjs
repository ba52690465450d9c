// Is anything kept per waiting run? The whole stack in one process (node --expose-gc), its heap
// measured after forced garbage collection at 200, 2,200 and 4,200 runs waiting for input. Flat
// figures mean the RSS growth bench/memory.mjs shows is the heap sized up under load, not retention.
//   node --expose-gc bench/heap-after-gc.mjs
import { startBenchStack } from './support/in-process-stack.mjs';
import { inParallel, sleep } from './support/report.mjs';
const stack = await startBenchStack({ label: 'heap' });
const version = await stack.call('/v1/workflows', {
  method: 'POST',
  body: JSON.stringify({
    workflow_id: 'h',
    steps: [
      {
        step_id: 's',
        modules: [
          {
            module_id: 'transform.set',
            name: 't',
            inputs: { value: '{{ run.project_name }}' },
            outputs_to_state: { value: 'v' },
          },
          { module_id: 'user.confirm', name: 'ok', inputs: { message: 'ok {{ state.v }}?' } },
        ],
      },
    ],
  }),
});
const make = (n, p) =>
  inParallel(
    Array.from({ length: n }, (_, i) => i),
    32,
    (i) =>
      stack.call('/v1/runs?wait_ms=0', {
        method: 'POST',
        body: JSON.stringify({
          workflow_version_id: version.workflow_version_id,
          project_name: `${p}-${i}`,
        }),
      }),
  );
const wait = async (n) => {
  while ((await stack.models.runs.countDocuments({ status: 'awaiting_input' })) < n)
    await sleep(200);
};
const heap = async () => {
  for (let i = 0; i < 3; i++) {
    global.gc();
    await sleep(100);
  }
  return (process.memoryUsage().heapUsed / 2 ** 20).toFixed(1);
};
await make(200, 'w');
await wait(200);
console.log('after 200', await heap());
await make(2000, 'a');
await wait(2200);
console.log('after 2200', await heap());
await make(2000, 'b');
await wait(4200);
console.log('after 4200', await heap());
await stack.close();
process.exit(0);
