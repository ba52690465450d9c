import {
  useEffect,
  useId,
  useRef,
  useState,
  type FormEvent,
  type ReactNode,
  type RefObject,
} from 'react';
import type { Run } from '../answer/useAnswer';
import { ErrorNotice } from '../layout/Status';
import { useAnswerAgain, useRetry } from './actions';
import { moduleLabel, type ModulePosition } from './events';
import { ReuseAnswersField } from './ReuseAnswersField';

/*
 * The commands a timeline entry offers, each a button that opens a small form (what to send with
 * it), then sends it: "Retry <module>…" and "Answer this again…".
 */

/**
 * A button that opens a form in its place. Opening focuses the form's first control; Cancel
 * unmounts the form, focus and all, so focus goes back to the button that opened it (a command
 * that went through moves focus to the page's notice instead).
 */
function useDisclosure<Field extends HTMLElement>() {
  const [open, setOpen] = useState(false);
  const field = useRef<Field>(null);
  const opener = useRef<HTMLButtonElement>(null);
  const focusOpener = useRef(false);
  useEffect(() => {
    if (open) field.current?.focus();
    else if (focusOpener.current) {
      focusOpener.current = false;
      opener.current?.focus();
    }
  }, [open]);
  const cancel = () => {
    focusOpener.current = true;
    setOpen(false);
  };
  return { open, setOpen, cancel, field, opener };
}

function OpenerButton({
  opener,
  onOpen,
  children,
}: {
  opener: RefObject<HTMLButtonElement | null>;
  onOpen: () => void;
  children: ReactNode;
}) {
  return (
    <button
      ref={opener}
      type="button"
      className="button button-small"
      aria-expanded="false"
      onClick={onOpen}
    >
      {children}
    </button>
  );
}

function CancelButton({ onCancel }: { onCancel: () => void }) {
  return (
    <button type="button" className="button" onClick={onCancel}>
      Cancel
    </button>
  );
}

/** "Retry <module>…": optional feedback and whether to reuse answers, then the retry. */
export function RetryControl({
  runId,
  position,
  onRetried,
}: {
  runId: string;
  position: ModulePosition;
  onRetried: (message: string) => void;
}) {
  const label = moduleLabel(position);
  const disclosure = useDisclosure<HTMLTextAreaElement>();
  const [feedback, setFeedback] = useState('');
  const [reuseAnswers, setReuseAnswers] = useState(false);
  const retry = useRetry(runId);
  const fieldId = useId();

  if (!disclosure.open) {
    return (
      <OpenerButton opener={disclosure.opener} onOpen={() => disclosure.setOpen(true)}>
        Retry {label}…
      </OpenerButton>
    );
  }
  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    retry.mutate(
      { position, feedback, reuseAnswers },
      {
        onSuccess: () => {
          disclosure.setOpen(false);
          const how = feedback.trim() === '' ? '' : ' with your feedback';
          onRetried(
            reuseAnswers
              ? `${label} runs again${how}; questions asked as before are answered as before.`
              : `${label} runs again${how}.`,
          );
        },
      },
    );
  };
  return (
    <form className="tl-retry" onSubmit={onSubmit} aria-label={`Retry ${label}`}>
      <div className="field">
        <label htmlFor={fieldId}>Feedback for {label} (optional)</label>
        <textarea
          id={fieldId}
          ref={disclosure.field}
          rows={3}
          value={feedback}
          onChange={(event) => setFeedback(event.target.value)}
        />
        <p className="field-help">The module sees it as run.feedback when it runs again.</p>
      </div>
      <ReuseAnswersField
        checked={reuseAnswers}
        onChange={setReuseAnswers}
        help="A question asked exactly as it was answered before, this module’s included, is answered the same way at once; only the questions that changed are asked."
      />
      {retry.isError && <ErrorNotice error={retry.error} title="The retry was not accepted" />}
      <div className="actions">
        <button type="submit" className="button button-primary" disabled={retry.isPending}>
          {retry.isPending ? 'Retrying…' : `Retry ${label} now`}
        </button>
        <CancelButton onCancel={disclosure.cancel} />
      </div>
    </form>
  );
}

/** "Answer this again…": a branch from before the question, which is asked again. */
export function AnswerAgainControl({
  runId,
  fromEventId,
  about,
  onBranched,
}: {
  runId: string;
  fromEventId: string;
  /** Which question, for a screen reader (the button's text is the same on every question). */
  about: string;
  onBranched: (run: Run) => void;
}) {
  const disclosure = useDisclosure<HTMLInputElement>();
  const [reuseAnswers, setReuseAnswers] = useState(false);
  const answerAgain = useAnswerAgain(runId);

  if (!disclosure.open) {
    return (
      <OpenerButton opener={disclosure.opener} onOpen={() => disclosure.setOpen(true)}>
        Answer this again…<span className="visually-hidden"> ({about})</span>
      </OpenerButton>
    );
  }
  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    answerAgain.mutate({ fromEventId, reuseAnswers }, { onSuccess: onBranched });
  };
  return (
    <form className="tl-retry" onSubmit={onSubmit} aria-label={`Answer again: ${about}`}>
      <p className="field-help">
        A new branch starts just before this question, and the question is asked again.
      </p>
      <ReuseAnswersField
        inputRef={disclosure.field}
        checked={reuseAnswers}
        onChange={setReuseAnswers}
        help="This question is asked all the same; the ones after it that are asked exactly as before are answered as before."
      />
      {answerAgain.isError && <ErrorNotice error={answerAgain.error} title="No branch was made" />}
      <div className="actions">
        <button type="submit" className="button button-primary" disabled={answerAgain.isPending}>
          {answerAgain.isPending ? 'Making a branch…' : 'Answer this again now'}
        </button>
        <CancelButton onCancel={disclosure.cancel} />
      </div>
    </form>
  );
}
