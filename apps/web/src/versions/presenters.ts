import type {
  ChangeKind,
  ChangeRelation,
  ModuleChange,
  ResumeChoice,
  StepChange,
  TemplateDetail,
  VersionChangeView,
} from './types';

/*
 * What the Versions page says about a run, a version and a change, in one place: the components
 * only lay these out.
 */

/** A size in bytes, as a person reads it. */
export function sizeText(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

/**
 * Each listed version's number, 1 for the oldest: the list is newest first and knows how many
 * versions there are in all, so a number holds however many pages are loaded.
 */
export function versionNumbers(pages: readonly TemplateDetail[]): Map<string, number> {
  const total = pages[0]?.version_count ?? 0;
  return new Map(
    pages
      .flatMap((page) => page.versions)
      .map((version, index) => [version.workflow_version_id, total - index]),
  );
}

export interface RelationGroup {
  relation: ChangeRelation;
  heading: string;
  steps: StepChange[];
  modules: ModuleChange[];
}

const relationHeadings: Record<ChangeRelation, string> = {
  before: 'Before the run’s position',
  at: 'At the position',
  after: 'After the position',
};

/**
 * The changes in three groups, before / at / after the run's position, in that order; a group
 * with nothing in it is left out. A step whose only change is its modules is not listed apart:
 * its module changes say it better.
 */
export function groupByRelation(changes: VersionChangeView['changes']): RelationGroup[] {
  const relations: ChangeRelation[] = ['before', 'at', 'after'];
  return relations
    .map((relation) => ({
      relation,
      heading: relationHeadings[relation],
      steps: changes.steps.filter(
        (step) =>
          step.relation === relation &&
          !(step.change === 'changed' && step.fields.every((field) => field === 'modules')),
      ),
      modules: changes.modules.filter((module) => module.relation === relation),
    }))
    .filter((group) => group.steps.length > 0 || group.modules.length > 0);
}

const kindWords: Record<ChangeKind, string> = {
  added: 'Added',
  removed: 'Removed',
  changed: 'Changed',
};

export function kindText(kind: ChangeKind): string {
  return kindWords[kind];
}

/** What a step change is, in a few words: "Added", "Changed: order, name". */
export function stepChangeText(step: StepChange): string {
  if (step.change !== 'changed' || step.fields.length === 0) return kindWords[step.change];
  return `Changed: ${step.fields.join(', ')}`;
}

export type DiffLineKind = 'file' | 'hunk' | 'context' | 'added' | 'removed';

export interface DiffLine {
  kind: DiffLineKind;
  text: string;
}

/** The lines of a unified diff, each told apart by its prefix (which stays in the text). */
export function diffLines(diff: string): DiffLine[] {
  const lines = diff.replace(/\n$/, '').split('\n');
  return lines.map((text) => {
    if (text.startsWith('--- ') || text.startsWith('+++ ')) return { kind: 'file', text };
    if (text.startsWith('@@')) return { kind: 'hunk', text };
    if (text.startsWith('+')) return { kind: 'added', text };
    if (text.startsWith('-')) return { kind: 'removed', text };
    return { kind: 'context', text };
  });
}

/** A changed text is named by its field path as the workflow author wrote it ("inputs.prompt"). */
export function textChangeCaption(field: string, kind: ChangeKind): string {
  if (kind === 'added') return `${field} (new)`;
  if (kind === 'removed') return `${field} (removed)`;
  return field;
}

export const choiceLabels: Record<ResumeChoice, string> = {
  restart_at: 'Use the new version and go back to a step',
  continue_with_new: 'Use the new version from where the run stands',
  continue_with_original: 'Keep the run on its current version',
  start_fresh: 'Start a new run of the new version',
};

/**
 * One line on what a choice does to this run. The server offers `continue_with_new` only where
 * the run's position is in the new version, and nothing but `start_fresh` for an ended run.
 */
export function choiceExplanation(
  choice: ResumeChoice,
  view: Pick<VersionChangeView, 'behind_position' | 'changes'>,
): string {
  switch (choice) {
    case 'restart_at':
      // Without its position in the new version, the step picked may lie ahead of where it was.
      return view.changes.position_exists
        ? 'The run moves to the new version and runs again from the step you pick; the steps from there on are done anew.'
        : 'The run moves to the new version and carries on from the start of the step you pick (the one it stood in is not in the new version).';
    case 'continue_with_new':
      return view.behind_position.length > 0
        ? 'The run moves to the new version and carries on from its position; the changes behind it are not run again.'
        : 'The run moves to the new version and carries on from its position.';
    case 'continue_with_original':
      return 'Nothing changes: the run carries on with the version it has.';
    case 'start_fresh':
      return 'A new run of the new version starts from the beginning, in the same project; this run stays as it is.';
  }
}

/** The confirm button's words for a choice. */
export function confirmText(choice: ResumeChoice, restartAt: string | null): string {
  switch (choice) {
    case 'restart_at':
      return restartAt === null ? 'Go back with the new version' : `Go back to ${restartAt}`;
    case 'continue_with_new':
      return 'Continue with the new version';
    case 'continue_with_original':
      return 'Keep the current version';
    case 'start_fresh':
      return 'Start a new run';
  }
}

/** The step ids of a resolved workflow, in order (an unexpected shape gives none). */
export function stepIdsOf(resolvedWorkflow: Record<string, unknown>): string[] {
  const steps = resolvedWorkflow['steps'];
  if (!Array.isArray(steps)) return [];
  return steps.flatMap((step: unknown) => {
    if (typeof step !== 'object' || step === null) return [];
    const id = (step as Record<string, unknown>)['step_id'];
    return typeof id === 'string' ? [id] : [];
  });
}
