import { useEffect, useId, useRef, useState, type FormEvent } from 'react';
import { RefusalNotice } from '../versions/RefusalNotice';
import { MigrationProgress } from './MigrationProgress';
import { OutcomeCounts, OutcomeTable } from './OutcomeTable';
import { ReuseAnswersField } from '../run/ReuseAnswersField';
import { policies, policyExplanations, policyLabels, runCount } from './present';
import {
  requestKey,
  usePreviewMigration,
  useRefreshAfterMigration,
  useStartMigration,
  type ImpactFilters,
  type MigrationDryRun,
  type MigrationPolicy,
  type MigrationRequest,
  type MigrationView,
} from './queries';

/** Predicted outcomes shown at first, and added by each "Show more": a dry run lists them all. */
const PREVIEW_ROWS_STEP = 200;

interface MigratePanelProps {
  templateName: string;
  toVersionId: string;
  /** "version 3": how the page names the version moved onto. */
  targetLabel: string;
  filters: ImpactFilters;
  numbers: ReadonlyMap<string, number>;
}

/** The dry run's answer: counts, each run's predicted outcome, and the button that migrates. */
function Preview({
  preview,
  numbers,
  starting,
  onMigrate,
}: {
  preview: MigrationDryRun;
  numbers: ReadonlyMap<string, number>;
  starting: boolean;
  onMigrate: () => void;
}) {
  const [shown, setShown] = useState(PREVIEW_ROWS_STEP);
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => heading.current?.focus(), []);
  const matched = preview.counts.matched;
  return (
    <section className="migration-preview" aria-labelledby="preview-heading">
      <h3 id="preview-heading" ref={heading} tabIndex={-1}>
        Preview: nothing has changed yet
      </h3>
      {matched === 0 ? (
        <p className="notice" role="status">
          No run matches these filters: there is nothing to migrate.
        </p>
      ) : (
        <>
          <OutcomeCounts counts={preview.counts} tense="predicted" />
          <OutcomeTable
            caption="What the migration would do to each run"
            outcomes={preview.outcomes.slice(0, shown)}
            tense="predicted"
            numbers={numbers}
          />
          {preview.outcomes.length > shown && (
            <div className="load-more">
              <button
                type="button"
                className="button"
                onClick={() => setShown((count) => count + PREVIEW_ROWS_STEP)}
              >
                Show more<span className="visually-hidden"> predicted outcomes</span>
              </button>
            </div>
          )}
          <div className="actions">
            <button
              type="button"
              className="button button-primary"
              onClick={onMigrate}
              disabled={starting}
            >
              {starting ? 'Starting…' : `Migrate ${runCount(matched)}`}
            </button>
          </div>
        </>
      )}
    </section>
  );
}

/**
 * "Migrate these…": a policy, a dry run of it over the runs the page's filters match, and only
 * then the migration itself, followed until it ends. A preview belongs to its request: changing
 * the policy or the filters hides it until the person previews again.
 */
export function MigratePanel(props: MigratePanelProps) {
  const { templateName, toVersionId, filters, numbers } = props;
  const [open, setOpen] = useState(false);
  const [policy, setPolicy] = useState<MigrationPolicy | null>(null);
  const [reuseAnswers, setReuseAnswers] = useState(false);
  const [started, setStarted] = useState<MigrationView | null>(null);
  const preview = usePreviewMigration(templateName);
  const start = useStartMigration(templateName);
  const refresh = useRefreshAfterMigration(templateName);
  // A double click would start two migrations before React re-renders the button disabled.
  const starting = useRef(false);
  const baseId = useId();

  const request: MigrationRequest | null =
    policy === null
      ? null
      : {
          toVersionId,
          filter: filters,
          policy,
          // Only a restart asks questions again: that is where earlier answers can be reused.
          reuseAnswers: policy === 'restart_at_earliest_change' && reuseAnswers,
        };
  const previewed = preview.variables;
  const currentPreview =
    preview.data !== undefined &&
    previewed !== undefined &&
    request !== null &&
    requestKey(previewed) === requestKey(request)
      ? preview.data
      : null;

  const onPreview = (event: FormEvent) => {
    event.preventDefault();
    if (request === null || preview.isPending) return;
    start.reset();
    preview.mutate(request);
  };

  const onMigrate = () => {
    if (currentPreview === null || request === null || starting.current) return;
    starting.current = true;
    start.mutate(
      {
        // The previewed request (the preview is current, so only reuse_answers can differ).
        request,
        runIds: currentPreview.outcomes.map((outcome) => outcome.workflow_run_id),
      },
      {
        onSettled: () => {
          starting.current = false;
        },
        onSuccess: (migration) => {
          preview.reset();
          setStarted(migration);
        },
      },
    );
  };

  // The progress, which holds the focus, goes away: the focus goes back to where it started from.
  const toggle = useRef<HTMLButtonElement>(null);
  const onClose = () => {
    setStarted(null);
    start.reset();
    toggle.current?.focus();
  };

  return (
    <section className="impact-section migrate-panel" aria-labelledby="migrate-heading">
      <h2 id="migrate-heading">Move these runs onto {props.targetLabel}</h2>
      <p className="muted">
        The runs listed above under the same filters are moved, each by the usual rules for one run.
        A preview (a dry run) comes first: it changes nothing.
      </p>
      <button
        type="button"
        className="button"
        ref={toggle}
        aria-expanded={open}
        aria-controls={`${baseId}-panel`}
        onClick={() => setOpen((value) => !value)}
      >
        Migrate these…
      </button>
      <div id={`${baseId}-panel`} hidden={!open} className="migrate-body">
        {started !== null ? (
          <MigrationProgress
            templateName={templateName}
            started={started}
            numbers={numbers}
            onCompleted={refresh}
            onClose={onClose}
          />
        ) : (
          <>
            <form className="migrate-form" onSubmit={onPreview} noValidate>
              <fieldset className="options">
                <legend className="resume-legend">How should each run move?</legend>
                <ul className="choice-list">
                  {policies.map((option) => {
                    const inputId = `${baseId}-${option}`;
                    return (
                      <li
                        key={option}
                        className={`choice-card${policy === option ? ' choice-card-selected' : ''}`}
                      >
                        <div className="choice-row">
                          <input
                            id={inputId}
                            type="radio"
                            name={`${baseId}-policy`}
                            value={option}
                            checked={policy === option}
                            onChange={() => setPolicy(option)}
                            aria-describedby={`${inputId}-explanation`}
                          />
                          <label htmlFor={inputId} className="choice-label">
                            {policyLabels[option]}
                          </label>
                        </div>
                        <p id={`${inputId}-explanation`} className="choice-explanation">
                          {policyExplanations[option]}
                        </p>
                      </li>
                    );
                  })}
                </ul>
              </fieldset>
              {policy === 'restart_at_earliest_change' ? (
                <ReuseAnswersField
                  checked={reuseAnswers}
                  onChange={setReuseAnswers}
                  help="A restarted run answers each question that comes out exactly as before with its earlier answer; only the changed ones wait for someone."
                />
              ) : null}
              <div className="actions">
                <button
                  type="submit"
                  className="button"
                  disabled={policy === null || preview.isPending}
                >
                  {preview.isPending
                    ? 'Previewing…'
                    : policy === null
                      ? 'Choose a policy to preview'
                      : 'Preview (dry run)'}
                </button>
              </div>
            </form>
            {preview.isError && (
              <RefusalNotice error={preview.error} title="The preview could not be made" />
            )}
            {start.isError && (
              <RefusalNotice error={start.error} title="The migration was not started" />
            )}
            {currentPreview !== null && (
              <Preview
                // A new preview shows its first rows again and takes the focus.
                key={preview.submittedAt}
                preview={currentPreview}
                numbers={numbers}
                starting={start.isPending}
                onMigrate={onMigrate}
              />
            )}
            {currentPreview === null && preview.data !== undefined && (
              <p className="muted" role="status">
                The policy or the filters changed since the preview: preview again to migrate.
              </p>
            )}
          </>
        )}
      </div>
    </section>
  );
}
