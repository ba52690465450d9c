import type { MigrationPolicy } from '../migration-api.js';
import type { VersionChangeView } from './version-change-view.js';

/**
 * What a batch migration does to one run (versions.md, "Batch migration"), decided from the run's
 * version change view alone. Pure, so that a dry run and the migration itself cannot disagree: both
 * call this with the same view.
 */
export type MigrationDecision =
  | { kind: 'switch'; restartAt: string | null }
  | { kind: 'skip'; reason: string }
  | { kind: 'fail'; code: string; reason: string };

export function decideMigration(
  view: VersionChangeView,
  policy: MigrationPolicy,
  position: { step_id: string; module_name: string } | null,
): MigrationDecision {
  if (view.current_version === view.submitted_version) {
    return { kind: 'skip', reason: 'the run is already on the target version' };
  }
  const where = position ? `${position.step_id}.${position.module_name}` : 'its start';
  const positionGone = !view.changes.position_exists;
  const behind = view.behind_position.length;
  const behindText = `${behind === 1 ? '1 change lies' : `${behind} changes lie`} behind its position (${where})`;
  const goneText = `the target version has no ${where}, where the run stands`;

  switch (policy) {
    case 'continue_with_new':
      if (positionGone) return { kind: 'fail', code: 'POSITION_NOT_IN_VERSION', reason: goneText };
      return { kind: 'switch', restartAt: null };
    case 'restart_at_earliest_change':
      if (behind === 0 && !positionGone) return { kind: 'switch', restartAt: null };
      if (view.suggested_restart_at === null) {
        return {
          kind: 'fail',
          code: 'POSITION_NOT_IN_VERSION',
          reason: `${positionGone ? goneText : behindText}, and no step of the target version holds a change to restart at`,
        };
      }
      return { kind: 'switch', restartAt: view.suggested_restart_at };
    case 'skip_if_behind':
      if (positionGone) return { kind: 'skip', reason: goneText };
      if (behind > 0) return { kind: 'skip', reason: behindText };
      return { kind: 'switch', restartAt: null };
  }
}
