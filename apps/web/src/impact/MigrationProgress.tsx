import { useEffect, useRef } from 'react';
import { ErrorNotice } from '../layout/Status';
import { OutcomeCounts, OutcomeTable } from './OutcomeTable';
import { runCount } from './present';
import { useMigration, type MigrationView } from './queries';

/**
 * A started migration followed to its end: a progress bar and the counts while it runs (read
 * every half second), then each run's outcome. `onCompleted` is called once, when it has ended.
 */
export function MigrationProgress({
  templateName,
  started,
  numbers,
  onCompleted,
  onClose,
}: {
  templateName: string;
  started: MigrationView;
  numbers: ReadonlyMap<string, number>;
  onCompleted: () => void;
  onClose: () => void;
}) {
  const migration = useMigration(templateName, started);
  const pages = migration.data?.pages ?? [started];
  const latest = pages[0] ?? started;
  const outcomes = pages.flatMap((page) => page.outcomes);
  const { counts } = latest;
  const done = counts.matched - counts.pending;
  const completed = latest.status === 'completed';
  const heading = useRef<HTMLHeadingElement>(null);
  const reported = useRef(false);

  useEffect(() => heading.current?.focus(), []);
  useEffect(() => {
    if (!completed || reported.current) return;
    reported.current = true;
    onCompleted();
  }, [completed, onCompleted]);

  return (
    <section
      className="migration-progress"
      aria-labelledby="migration-heading"
      data-status={latest.status}
    >
      <h3 id="migration-heading" ref={heading} tabIndex={-1}>
        {completed ? 'Migration finished' : 'Migrating…'}
      </h3>
      <p className="muted">
        Migration <span className="mono">{latest.migration_id}</span>
      </p>
      <div className="migration-bar">
        <label htmlFor="migration-progress-bar">Runs done</label>
        <progress id="migration-progress-bar" max={Math.max(counts.matched, 1)} value={done}>
          {done} of {counts.matched}
        </progress>
      </div>
      <p role="status" className="migration-status">
        {completed
          ? `Finished: ${done} of ${runCount(counts.matched)} done.`
          : `${done} of ${runCount(counts.matched)} done${latest.status === 'queued' ? ' (queued)' : ''}.`}
      </p>
      {migration.isError && (
        <ErrorNotice error={migration.error} title="The migration's progress could not be read" />
      )}
      <OutcomeCounts counts={counts} tense="done" />
      {outcomes.length > 0 && (
        <OutcomeTable
          caption={completed ? 'What the migration did to each run' : 'Each run so far'}
          outcomes={outcomes}
          tense="done"
          numbers={numbers}
        />
      )}
      <div className="actions">
        {migration.hasNextPage && completed && (
          <button
            type="button"
            className="button"
            onClick={() => void migration.fetchNextPage()}
            disabled={migration.isFetchingNextPage}
          >
            {migration.isFetchingNextPage ? 'Loading…' : 'Show more outcomes'}
          </button>
        )}
        {completed && (
          <button type="button" className="button" onClick={onClose}>
            Close
          </button>
        )}
      </div>
    </section>
  );
}
