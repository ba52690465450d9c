import { useId, useState, type FormEvent } from 'react';
import { ReuseAnswersField } from '../run/ReuseAnswersField';
import { choiceExplanation, choiceLabels, confirmText } from './presenters';
import { RefusalNotice } from './RefusalNotice';
import type { ResumeDecision } from './queries';
import type { ResumeChoice, VersionChangeView } from './types';

interface ResumeChoicesProps {
  view: VersionChangeView;
  /** The steps of the submitted version, in order: where `restart_at` may go back to. */
  steps: string[];
  sending: boolean;
  error: unknown;
  onConfirm: (decision: ResumeDecision) => void;
}

/**
 * The choices the server offers, in its order (`restart_at` first when a change lies behind the
 * run), each with what it does; the first is preselected. The list may be short: no
 * `continue_with_new` where the run's position is not in the new version, only `start_fresh` for
 * an ended run. Remounted per compared version.
 */
export function ResumeChoices({ view, steps, sending, error, onConfirm }: ResumeChoicesProps) {
  const [choice, setChoice] = useState<ResumeChoice | null>(view.options[0] ?? null);
  // The step picked to go back to; until one is, the server's suggestion (else the first step,
  // once the version's steps have loaded).
  const [pickedRestart, setPickedRestart] = useState<string | null>(null);
  const restartAt = pickedRestart ?? view.suggested_restart_at ?? steps[0] ?? null;
  // Off by default: going back asks every question again unless the person says otherwise.
  const [reuseAnswers, setReuseAnswers] = useState(false);
  const baseId = useId();
  // The server suggests the step of the earliest change behind the run, else (its position gone
  // from the new version) the step where it would carry on.
  const suggestionNote = view.behind_position.length > 0 ? ' (earliest change)' : ' (suggested)';
  // The suggested step may be missing from a version whose steps load late: add it to the list.
  const restartSteps =
    view.suggested_restart_at !== null && !steps.includes(view.suggested_restart_at)
      ? [view.suggested_restart_at, ...steps]
      : steps;

  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (choice === null || sending) return;
    onConfirm({
      choice,
      submittedVersionId: view.submitted_version,
      restartAt: choice === 'restart_at' ? restartAt : null,
      reuseAnswers: choice === 'restart_at' && reuseAnswers,
    });
  };

  if (view.options.length === 0) {
    return <p className="notice">The server offers no way to move this run to that version.</p>;
  }
  return (
    <form className="resume-form" onSubmit={submit} noValidate>
      <fieldset className="options">
        <legend className="resume-legend">What should happen to the run?</legend>
        <ul className="choice-list">
          {view.options.map((option) => {
            const inputId = `${baseId}-${option}`;
            const explanationId = `${inputId}-explanation`;
            return (
              <li
                key={option}
                className={`choice-card${choice === option ? ' choice-card-selected' : ''}`}
              >
                <div className="choice-row">
                  <input
                    id={inputId}
                    type="radio"
                    name={`${baseId}-choice`}
                    value={option}
                    checked={choice === option}
                    onChange={() => setChoice(option)}
                    aria-describedby={explanationId}
                  />
                  <label htmlFor={inputId} className="choice-label">
                    {choiceLabels[option]}
                    {option === 'restart_at' && view.suggested_restart_at !== null && (
                      <span className="badge">Suggested</span>
                    )}
                  </label>
                </div>
                <p id={explanationId} className="choice-explanation">
                  {choiceExplanation(option, view)}
                </p>
                {option === 'restart_at' && (
                  <div className="field field-inline choice-extra">
                    <label htmlFor={`${inputId}-step`}>Step to go back to</label>
                    <select
                      id={`${inputId}-step`}
                      value={restartAt ?? ''}
                      onChange={(event) => {
                        setPickedRestart(event.target.value);
                        setChoice('restart_at');
                      }}
                    >
                      {restartSteps.map((step) => (
                        <option key={step} value={step}>
                          {step}
                          {step === view.suggested_restart_at ? suggestionNote : ''}
                        </option>
                      ))}
                    </select>
                  </div>
                )}
                {option === 'restart_at' && choice === 'restart_at' && (
                  <div className="choice-extra">
                    <ReuseAnswersField
                      checked={reuseAnswers}
                      onChange={setReuseAnswers}
                      help="After going back, a question asked exactly as it was answered before is answered the same way at once; only the questions that come out differently are asked."
                    />
                  </div>
                )}
              </li>
            );
          })}
        </ul>
      </fieldset>
      {error !== null && error !== undefined && (
        <RefusalNotice error={error} title="The run was not changed" />
      )}
      <div className="actions">
        <button
          type="submit"
          className="button button-primary"
          disabled={sending || choice === null}
        >
          {sending
            ? 'Working…'
            : choice === null
              ? 'Choose what to do'
              : confirmText(choice, restartAt)}
        </button>
      </div>
    </form>
  );
}
