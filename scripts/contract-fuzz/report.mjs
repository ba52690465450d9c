// Reads what schemathesis found (its NDJSON event log and JSON report), groups the failures by
// operation, check and response status with one example each, and compares them with the
// allow-list. Kept apart from the harness so the comparison can be read (and argued about) alone.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

/** The checks `--checks all` runs (schemathesis 4.32); an allow-list entry must name one. */
export const CHECK_NAMES = [
  'not_a_server_error',
  'status_code_conformance',
  'content_type_conformance',
  'response_headers_conformance',
  'response_schema_conformance',
  'negative_data_rejection',
  'positive_data_acceptance',
  'missing_required_header',
  'unsupported_method',
  'allow_header_conformance',
  'use_after_free',
  'ensure_resource_availability',
  'ignored_auth',
  'object_level_authorization',
  'max_response_time',
];

const OPERATION = /^(GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS) \/\S*$/;

/**
 * Loads and validates the allow-list. Each entry names an operation as schemathesis labels it
 * (`POST /v1/runs/{id}/retry`), a check, optionally the response status it is limited to, and
 * why the failure is not a bug: a malformed entry stops the run rather than hiding failures.
 */
export function loadAllowlist(path) {
  const document = JSON.parse(readFileSync(path, 'utf8'));
  const entries = document.entries;
  if (!Array.isArray(entries)) throw new Error(`${path}: "entries" must be an array`);
  const problems = [];
  entries.forEach((entry, index) => {
    const at = `${path}: entries[${index}]`;
    if (typeof entry !== 'object' || entry === null) return problems.push(`${at} is not an object`);
    const known = new Set(['operation', 'check', 'status', 'reason']);
    for (const key of Object.keys(entry))
      if (!known.has(key)) problems.push(`${at}.${key} is unknown`);
    if (typeof entry.operation !== 'string' || !OPERATION.test(entry.operation))
      problems.push(`${at}.operation must read like "POST /v1/runs/{id}/retry"`);
    if (!CHECK_NAMES.includes(entry.check))
      problems.push(`${at}.check must be one of ${CHECK_NAMES.join(', ')}`);
    if (
      entry.status !== undefined &&
      !(Number.isInteger(entry.status) && entry.status >= 100 && entry.status <= 599)
    )
      problems.push(`${at}.status must be an HTTP status code when given`);
    if (typeof entry.reason !== 'string' || entry.reason.trim().length < 10)
      problems.push(`${at}.reason must say why this is not a bug (a sentence, not a word)`);
    return undefined;
  });
  if (problems.length > 0) throw new Error(`invalid allow-list:\n  ${problems.join('\n  ')}`);
  return entries;
}

const isControlCharacter = (char) => char < ' ' && !'\t\n\r\f\v'.includes(char);

/** A recorded body as text (JSON re-serialised compactly), shortened; binary as its size. */
function bodyText(recorded, limit = 800) {
  if (!recorded) return '';
  const base64 = typeof recorded === 'object' ? recorded.$base64 : undefined;
  const bytes =
    base64 === undefined ? Buffer.from(String(recorded)) : Buffer.from(base64, 'base64');
  const text = bytes.toString('utf8');
  // Control characters other than whitespace, or bytes that are not UTF-8: show the size only.
  if (text.includes('\uFFFD') || [...text].some(isControlCharacter)) {
    return `<${bytes.length} bytes>`;
  }
  let shown = text;
  try {
    shown = JSON.stringify(JSON.parse(text));
  } catch {
    // Not JSON: shown as sent.
  }
  return shown.length > limit ? `${shown.slice(0, limit)}… (${shown.length} chars)` : shown;
}

function headerValue(headers, name) {
  const value = Object.entries(headers ?? {}).find(([key]) => key.toLowerCase() === name)?.[1];
  return Array.isArray(value) ? value.join(', ') : value;
}

function exampleOf(interaction, failure, phase) {
  const request = interaction?.request;
  const response = interaction?.response;
  return {
    phase,
    title: `${failure.code ?? ''} ${failure.title ?? ''}`.trim(),
    message: String(failure.message ?? '').slice(0, 1200),
    request: request
      ? {
          method: request.method,
          uri: request.uri,
          content_type: headerValue(request.headers, 'content-type') ?? null,
          // Which headers were sent (values of credentials are filtered by schemathesis).
          headers: Object.keys(request.headers ?? {}),
          body: bodyText(request.body),
        }
      : null,
    response: response
      ? {
          status: response.status_code,
          content_type: headerValue(response.headers, 'content-type') ?? null,
          body: bodyText(response.content),
        }
      : null,
  };
}

/**
 * Every failed check in the event log, grouped by operation, check and response status. A check
 * that failed on a probe it sent itself (ignored_auth, use_after_free…) is shown with that probe.
 */
export function readFailures(ndjsonPath, jsonPath) {
  const groups = new Map();
  const errors = [];
  let complete = false;
  if (existsSync(ndjsonPath)) {
    for (const line of readFileSync(ndjsonPath, 'utf8').split('\n')) {
      if (line.trim() === '') continue;
      const event = JSON.parse(line);
      if (event.EngineFinished) complete = true;
      if (event.NonFatalError) {
        const error = event.NonFatalError;
        errors.push(
          `${error.label ?? 'run'}: ${String(error.value?.title ?? error.value?.message ?? JSON.stringify(error.value)).slice(0, 300)}`,
        );
      }
      const scenario = event.ScenarioFinished;
      if (!scenario?.recorder?.checks) continue;
      const { recorder } = scenario;
      for (const [caseId, checks] of Object.entries(recorder.checks)) {
        for (const check of checks) {
          if (check.status !== 'failure') continue;
          const failure = check.failure_info?.failure ?? {};
          const interaction =
            recorder.interactions?.[failure.case_id ?? caseId] ?? recorder.interactions?.[caseId];
          const operation = failure.operation ?? recorder.label;
          const status = interaction?.response?.status_code ?? null;
          const key = `${operation}\u0000${check.name}\u0000${status}`;
          let group = groups.get(key);
          if (!group) {
            group = {
              operation,
              check: check.name,
              status,
              code: failure.code ?? null,
              title: failure.title ?? null,
              cases: new Set(),
              example: exampleOf(interaction, failure, scenario.phase),
            };
            groups.set(key, group);
          }
          group.cases.add(failure.case_id ?? caseId);
        }
      }
    }
  }
  // The JSON report is written at the end; without it the run did not finish as it should.
  if (existsSync(jsonPath)) {
    const report = JSON.parse(readFileSync(jsonPath, 'utf8'));
    complete = complete && report.complete === true;
    // The event log names each error with its operation; the report only counts them by title,
    // so it is used only when the log holds none (a fatal error before any test, say).
    if (errors.length === 0) {
      for (const error of report.errors ?? []) errors.push(`${error.title} (×${error.count})`);
    }
  } else {
    complete = false;
  }
  const failures = [...groups.values()]
    .map(({ cases, ...group }) => ({ ...group, count: cases.size }))
    .sort(
      (a, b) =>
        a.operation.localeCompare(b.operation) ||
        a.check.localeCompare(b.check) ||
        (a.status ?? 0) - (b.status ?? 0),
    );
  return { failures, errors, complete };
}

const entryMatches = (entry, failure) =>
  entry.operation === failure.operation &&
  entry.check === failure.check &&
  (entry.status === undefined || entry.status === failure.status);

/** Splits the failures into allow-listed and not, and finds the entries that matched nothing. */
export function matchFailures(failures, entries) {
  const used = new Set();
  const listed = [];
  const unlisted = [];
  for (const failure of failures) {
    const index = entries.findIndex((entry) => entryMatches(entry, failure));
    if (index === -1) {
      unlisted.push(failure);
    } else {
      used.add(index);
      listed.push({ ...failure, reason: entries[index].reason });
    }
  }
  const stale = entries.filter((_, index) => !used.has(index));
  return { listed, unlisted, stale };
}

/** One line for a log or a Markdown code span: an event stream's body is many lines of its own. */
const oneLine = (text) => text.replaceAll('\n', '\\n').replaceAll('`', "'");

const describe = (failure) =>
  `${failure.operation}  ${failure.check}  ${failure.status ?? 'no response'}  ×${failure.count}  (${failure.code ?? ''} ${failure.title ?? ''})`;

function exampleLines(example) {
  const lines = [];
  if (example.request) {
    const body = example.request.body ? ` ${oneLine(example.request.body)}` : '';
    const type = example.request.content_type ? ` [${example.request.content_type}]` : '';
    lines.push(`      request:  ${example.request.method} ${example.request.uri}${type}${body}`);
  }
  if (example.response) {
    lines.push(`      response: ${example.response.status} ${oneLine(example.response.body)}`);
  }
  return lines;
}

/** Prints the outcome for a person reading the CI log, unlisted failures first. */
export function printSummary(summary) {
  const out = [];
  out.push('', '=== contract fuzz summary ===');
  out.push(
    `seed ${summary.seed}, ${summary.max_examples} examples per operation and phase, phases ${summary.phases.join(', ')}; ` +
      `schemathesis ${summary.schemathesis_seconds} s, whole step ${summary.total_seconds} s`,
  );
  for (const problem of summary.problems) out.push(`PROBLEM: ${problem}`);
  out.push('', `Unlisted failures (each fails the step): ${summary.unlisted.length}`);
  for (const failure of summary.unlisted) {
    out.push(`  ✗ ${describe(failure)}`, ...exampleLines(failure.example));
  }
  out.push('', `Allow-listed failures: ${summary.listed.length}`);
  for (const failure of summary.listed)
    out.push(`  ~ ${describe(failure)}`, `      reason: ${failure.reason}`);
  if (summary.stale.length > 0) {
    out.push(
      '',
      `WARNING: ${summary.stale.length} allow-list entries matched no failure (stale; remove them once the fix is in):`,
    );
    for (const entry of summary.stale)
      out.push(
        `  ? ${entry.operation}  ${entry.check}${entry.status === undefined ? '' : `  ${entry.status}`}`,
      );
  }
  out.push('');
  console.log(out.join('\n'));
}

/** The same outcome as Markdown, for reading in the CI artifacts. */
export function writeMarkdown(path, summary) {
  const out = ['# Contract fuzz failures', ''];
  out.push(
    `Seed ${summary.seed}; ${summary.max_examples} examples; phases ${summary.phases.join(', ')}.`,
    '',
  );
  for (const problem of summary.problems) out.push(`- **Problem:** ${problem}`);
  const section = (title, failures) => {
    out.push('', `## ${title} (${failures.length})`, '');
    let operation = '';
    for (const failure of failures) {
      if (failure.operation !== operation) {
        operation = failure.operation;
        out.push('', `### \`${operation}\``, '');
      }
      out.push(
        `- **${failure.check}** → ${failure.status ?? 'no response'} (${failure.count} cases; ${failure.code} ${failure.title}; found in ${failure.example.phase})`,
      );
      if (failure.reason) out.push(`  - reason: ${failure.reason}`);
      const { request, response, message } = failure.example;
      if (request)
        out.push(
          `  - request: \`${request.method} ${request.uri}\`${request.content_type ? ` (${request.content_type})` : ''}${request.body ? ` \`${oneLine(request.body)}\`` : ''}`,
        );
      if (response) out.push(`  - response: ${response.status} \`${oneLine(response.body)}\``);
      if (message)
        out.push(
          `  - schemathesis: ${message.split('\n').filter(Boolean).slice(0, 3).join(' / ')}`,
        );
    }
  };
  section('Unlisted', summary.unlisted);
  section('Allow-listed', summary.listed);
  if (summary.stale.length > 0) {
    out.push('', '## Stale allow-list entries', '');
    for (const entry of summary.stale)
      out.push(`- \`${entry.operation}\` ${entry.check} ${entry.status ?? ''}`);
  }
  writeFileSync(path, `${out.join('\n')}\n`);
}
