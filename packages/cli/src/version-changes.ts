import type { ResumeChoice, VersionChangeView } from '@stepwise/shared';

/**
 * The version change view (the `details` of a 409 VERSION_MISMATCH from `POST /v1/runs/{id}/resume`,
 * the body of `GET /v1/runs/{id}/version-changes`) as a person reads it in a terminal: what
 * changed, the changed text itself, and what the run would not run again. The warning and the
 * messages are the server's words, so the API, the CLI and the app say the same.
 */

/** A diff longer than this is cut: the terminal should still show the choices. */
const MAX_DIFF_LINES = 60;

function diffLines(diff: string): string[] {
  const lines = diff.replace(/\n$/, '').split('\n');
  if (lines.length <= MAX_DIFF_LINES) return lines;
  return [
    ...lines.slice(0, MAX_DIFF_LINES),
    `… ${lines.length - MAX_DIFF_LINES} more lines of this diff`,
  ];
}

/** Every changed module, where it lies against the run's position, and its changed text. */
export function describeChanges(view: VersionChangeView): string[] {
  const { changes } = view;
  const lines: string[] = [];
  if (changes.position)
    lines.push(`The run stands at ${changes.position.step_id}.${changes.position.module_name}.`);
  for (const module of changes.modules) {
    const fields = module.fields.length ? ` (${module.fields.join(', ')})` : '';
    lines.push(
      `  ${module.change.padEnd(8)} ${module.step_id}.${module.module_name}${fields}  ${module.relation} the run's position`,
    );
    for (const text of module.text_changes) {
      lines.push(`    ${text.field}:`);
      for (const line of diffLines(text.diff)) lines.push(`      ${line}`);
    }
  }
  // A step added or removed as a whole shows its modules above; a step that only moved does not.
  const stepsShown = new Set(changes.modules.map((module) => module.step_id));
  for (const step of changes.steps)
    if (!stepsShown.has(step.step_id))
      lines.push(
        `  ${step.change.padEnd(8)} step ${step.step_id}${step.fields.length ? ` (${step.fields.join(', ')})` : ''}  ${step.relation} the run's position`,
      );
  if (!changes.position_exists)
    lines.push('  the step the run stands in is not in the new version');
  return lines;
}

/** The plain-words warning and, under it, each change the run would not re-run. */
export function describeWarning(view: VersionChangeView): string[] {
  if (!view.warning) return [];
  const lines = [`Warning: ${view.warning}`];
  for (const change of view.behind_position) lines.push(`  - ${change.message}`);
  return lines;
}

/** The choices in the server's order (`restart_at` first when a change lies behind the run). */
export function choicesOf(view: VersionChangeView): { name: string; value: ResumeChoice }[] {
  const behind = view.behind_position.length > 0;
  const names: Record<ResumeChoice, string> = {
    restart_at: view.suggested_restart_at
      ? `Switch to the new version and go back to step ${view.suggested_restart_at} (the changes behind the run are run again)`
      : 'Switch to the new version and go back to a step you choose',
    continue_with_new: behind
      ? 'Continue with the new version from where the run stands (the changes behind it are NOT run again)'
      : 'Continue with the new version',
    continue_with_original: 'Continue with the original version',
    start_fresh: 'Start a fresh run of the new version (this one stays as it is)',
  };
  return view.options.map((value) => ({ name: names[value], value }));
}
