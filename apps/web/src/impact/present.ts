import type {
  MigrationCounts,
  MigrationPolicy,
  MigrationRunOutcome,
  RunImpact,
  UnfinishedStatus,
} from './queries';

/*
 * What the impact page says about a run, a policy and an outcome, in one place: the components
 * only lay these out.
 */

/** The statuses the report can filter by: a record, so a status the contract adds fails here. */
const unfinishedStatusSet: Record<UnfinishedStatus, true> = {
  running: true,
  awaiting_input: true,
  error: true,
};
export const unfinishedStatuses = Object.keys(unfinishedStatusSet) as UnfinishedStatus[];

export function isUnfinishedStatus(value: string | null): value is UnfinishedStatus {
  return value !== null && Object.hasOwn(unfinishedStatusSet, value);
}

export type VerdictKind = 'continues' | 'behind' | 'position_missing';

export interface Verdict {
  kind: VerdictKind;
  text: string;
}

function restartSuggestion(step: string | null): string {
  return step === null ? 'no step to restart at' : `restart at ${step} suggested`;
}

/**
 * How moving onto the version goes for a run: on as it is, or with changes it has passed (which
 * `continue_with_new` would not run), or with its position gone from the version.
 */
export function verdictOf(run: RunImpact): Verdict {
  if (!run.changes.position_exists) {
    return {
      kind: 'position_missing',
      text: `Position missing in this version — ${restartSuggestion(run.suggested_restart_at)}`,
    };
  }
  if (run.continue_without_restart) return { kind: 'continues', text: 'Continues as is' };
  return {
    kind: 'behind',
    text: `Changes behind its position — ${restartSuggestion(run.suggested_restart_at)}`,
  };
}

/** Whether the question the run waits on would be asked differently on the version. */
export function questionChangeText(changes: boolean | null): string {
  if (changes === null) return 'No question waiting';
  return changes ? 'Yes, it may be asked differently' : 'No, asked the same';
}

/** A version by its number when the loaded list knows it, else by its id. */
export function versionLabel(versionId: string, numbers: ReadonlyMap<string, number>): string {
  const number = numbers.get(versionId);
  return number === undefined ? versionId : `Version ${number}`;
}

export const policies: readonly MigrationPolicy[] = [
  'continue_with_new',
  'restart_at_earliest_change',
  'skip_if_behind',
];

export const policyLabels: Record<MigrationPolicy, string> = {
  continue_with_new: 'Continue with the new version',
  restart_at_earliest_change: 'Restart at the earliest change',
  skip_if_behind: 'Skip the runs that are behind',
};

export const policyExplanations: Record<MigrationPolicy, string> = {
  continue_with_new:
    'Every run goes on where it stands; changes behind its position are not run, and a run whose position the version lacks fails.',
  restart_at_earliest_change:
    'A run with a change behind its position (or a position the version lacks) goes back to the step holding the earliest change; the others go on where they stand.',
  skip_if_behind:
    'A run with a change behind its position (or a position the version lacks) is left as it is; the others go on where they stand.',
};

/** Whether the words describe what a dry run predicts or what the migration did. */
export type Tense = 'predicted' | 'done';

const outcomeWords: Record<NonNullable<MigrationRunOutcome['outcome']>, Record<Tense, string>> = {
  switched: {
    predicted: 'Would move and go on where it stands',
    done: 'Moved; goes on where it stood',
  },
  restarted_at: { predicted: 'Would move and restart at', done: 'Moved; restarted at' },
  skipped: { predicted: 'Would be skipped', done: 'Skipped' },
  failed: { predicted: 'Would fail', done: 'Failed' },
};

/** One run's outcome in a sentence: "Would move and restart at draft", "Skipped: …". */
export function outcomeText(outcome: MigrationRunOutcome, tense: Tense): string {
  if (outcome.outcome === null) return 'Not reached yet';
  const words = outcomeWords[outcome.outcome][tense];
  if (outcome.outcome === 'restarted_at') return `${words} ${outcome.restart_at ?? 'a step'}`;
  if (outcome.reason === null) return words;
  const code = outcome.error_code === null ? '' : ` (${outcome.error_code})`;
  return `${words}: ${outcome.reason}${code}`;
}

/** The badge class of an outcome: words first, colour only repeats them. */
export function outcomeClass(outcome: MigrationRunOutcome['outcome']): string {
  return `outcome outcome-${outcome ?? 'pending'}`;
}

/** The counts by outcome, in the order the page lists them. */
export function countEntries(counts: MigrationCounts, tense: Tense) {
  const moveWord = tense === 'predicted' ? 'would move' : 'moved';
  return [
    { key: 'switched', label: `${moveWord} where they stand`, value: counts.switched },
    {
      key: 'restarted_at',
      label: tense === 'predicted' ? 'would move and restart' : 'moved and restarted',
      value: counts.restarted_at,
    },
    {
      key: 'skipped',
      label: tense === 'predicted' ? 'would be skipped' : 'skipped',
      value: counts.skipped,
    },
    {
      key: 'failed',
      label: tense === 'predicted' ? 'would fail' : 'failed',
      value: counts.failed,
    },
  ] as const;
}

/** "3 runs", "1 run". */
export function runCount(count: number): string {
  return `${count} ${count === 1 ? 'run' : 'runs'}`;
}
