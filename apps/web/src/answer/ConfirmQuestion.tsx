import { useState } from 'react';
import type { components } from '@stepwise/client';
import { LazyMarkdown } from './LazyMarkdown';
import type { QuestionProps } from './types';

type ConfirmRequest = components['schemas']['ConfirmRequest'];

/**
 * Approve or reject. The content to approve is the message itself and the `display` context
 * shown beside it.
 */
export function ConfirmQuestion({
  request,
  sending,
  problems,
  onAnswer,
}: QuestionProps<ConfirmRequest>) {
  const [choice, setChoice] = useState<boolean | null>(null);
  const answer = (confirmed: boolean) => {
    if (sending) return;
    setChoice(confirmed);
    onAnswer({ confirmed });
  };
  return (
    <div className="stack">
      <div className="question-prompt confirm-message">
        <LazyMarkdown text={request.message} />
      </div>
      {problems.map((problem) => (
        <p key={problem.path + problem.message} className="field-error">
          {problem.message}
        </p>
      ))}
      <div className="actions" role="group" aria-label="Your decision">
        <button
          type="button"
          className="button button-primary"
          onClick={() => answer(true)}
          disabled={sending}
        >
          {sending && choice === true ? 'Sending…' : 'Approve'}
        </button>
        <button
          type="button"
          className="button button-danger"
          onClick={() => answer(false)}
          disabled={sending}
        >
          {sending && choice === false ? 'Sending…' : 'Reject'}
        </button>
      </div>
    </div>
  );
}
