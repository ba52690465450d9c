// Prints the closing lines for CI from vitest's JSON report: each failed test (file, name and the
// first lines of its message), then one plain line "vitest: N passed, N failed". The failures are
// printed here, at the end of the log, because a CI log is often read from its tail only.
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

const report = JSON.parse(readFileSync(process.argv[2] ?? 'test-artifacts/vitest.json', 'utf8'));
const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);

const MESSAGE_LINES = 4;
for (const file of report.testResults ?? []) {
  const failed = (file.assertionResults ?? []).filter((test) => test.status === 'failed');
  if (failed.length === 0 && file.status !== 'failed') continue;
  const where = relative(process.cwd(), file.name);
  if (failed.length === 0) {
    // A file can fail without a failed test: a hook threw, or the file did not load.
    console.log(`FAILED ${where}: ${firstLines(file.message ?? 'the file failed to run')}`);
  }
  for (const test of failed) {
    console.log(`FAILED ${where} > ${test.fullName}`);
    for (const message of (test.failureMessages ?? []).slice(0, 1)) {
      console.log(`    ${firstLines(message).replaceAll('\n', '\n    ')}`);
    }
  }
}

console.log(
  `vitest: ${report.numPassedTests} passed, ${report.numFailedTests} failed` +
    (skipped > 0 ? `, ${skipped} skipped` : ''),
);
process.exit(report.success && report.numTotalTests > 0 ? 0 : 1);

function firstLines(text) {
  return String(text).split('\n').slice(0, MESSAGE_LINES).join('\n');
}
