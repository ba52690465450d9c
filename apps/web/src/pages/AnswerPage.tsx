import { useQuery } from '@tanstack/react-query';
import { useEffect, useRef } from 'react';
import { Link, useLocation, useNavigate, useParams } from 'react-router';
import { ApiError, api, unwrap } from '../api/client';
import { classify, displayOf, humanize, type PendingInteraction } from '../api/requests';
import { ConfirmQuestion } from '../answer/ConfirmQuestion';
import { DeadlineNote } from '../answer/DeadlineNote';
import { DisplayPanel } from '../answer/DisplayPanel';
import { FileInputQuestion } from '../answer/FileInputQuestion';
import { FormQuestion } from '../answer/FormQuestion';
import { PluginQuestion } from '../answer/PluginQuestion';
import { SelectQuestion } from '../answer/SelectQuestion';
import { TextInputQuestion } from '../answer/TextInputQuestion';
import { runKey, useAnswer, type Run } from '../answer/useAnswer';
import { describeError, ErrorNotice, Loading } from '../layout/Status';
import { RetryFeedbackNote } from '../run/RetryFeedbackNote';
import { noticeOf } from '../util/notice';
import { useDocumentTitle } from '../util/title';
import { answerPath } from '../runs/present';

/** The question, its renderer chosen by module; remounted per interaction (fresh answer state). */
function Question({ run, interaction }: { run: Run; interaction: PendingInteraction }) {
  const navigate = useNavigate();
  const answer = useAnswer(run.workflow_run_id, interaction.interaction_id);
  // A double click submits twice before React re-renders the button disabled: only the first
  // submission goes out (a repeat would carry the same Idempotency-Key anyway, but its answer,
  // not the first one's, would decide where the page goes).
  const inFlight = useRef(false);
  const onAnswer = (response: Parameters<typeof answer.mutate>[0]) => {
    if (inFlight.current) return;
    inFlight.current = true;
    answer.mutate(response, {
      onSettled: () => {
        inFlight.current = false;
      },
      onSuccess: (next) => {
        const pending = next.pending_interaction;
        if (
          next.status === 'awaiting_input' &&
          pending &&
          pending.interaction_id !== interaction.interaction_id
        ) {
          void navigate(answerPath(next.workflow_run_id, pending.interaction_id), {
            state: { notice: 'Answer sent. The run asks you another question.' },
          });
          return;
        }
        const notice =
          next.status === 'completed'
            ? `Answer sent. The run of ${next.workflow_template_name} has completed.`
            : next.status === 'error'
              ? `Answer sent, but the run of ${next.workflow_template_name} then failed.`
              : 'Answer sent. The run goes on; it will show up in your inbox if it asks again.';
        void navigate('/inbox', { state: { notice } });
      },
    });
  };
  const sending = answer.isPending;
  const problems = answer.error instanceof ApiError ? answer.error.problems : [];
  const known = classify(interaction);
  const common = { sending, problems, onAnswer };

  return (
    <div className="question">
      {answer.isError && (
        <div className="notice notice-error" role="alert">
          {answer.error instanceof ApiError && answer.error.code === 'INTERACTION_NOT_PENDING' ? (
            <>
              This question was already answered. <Link to="/inbox">Back to the inbox</Link>
            </>
          ) : answer.error instanceof ApiError && answer.error.status === 422 ? (
            'The answer was not accepted: see the marked fields.'
          ) : (
            <>
              {describeError(answer.error)} Your answer was not lost: send it again (it will not be
              counted twice).
            </>
          )}
        </div>
      )}
      {known.module === 'user.select' && <SelectQuestion request={known.request} {...common} />}
      {known.module === 'user.text_input' && (
        <TextInputQuestion request={known.request} {...common} />
      )}
      {known.module === 'user.form' && <FormQuestion request={known.request} {...common} />}
      {known.module === 'user.confirm' && <ConfirmQuestion request={known.request} {...common} />}
      {known.module === 'user.file_input' && (
        <FileInputQuestion
          runId={run.workflow_run_id}
          interactionId={interaction.interaction_id}
          request={known.request}
          {...common}
        />
      )}
      {known.module === 'other' && (
        <PluginQuestion request={known.request} moduleId={interaction.module_id} {...common} />
      )}
    </div>
  );
}

export default function AnswerPage() {
  const { runId = '', interactionId = '' } = useParams();
  const location = useLocation();
  const notice = noticeOf(location.state);
  const heading = useRef<HTMLHeadingElement>(null);
  const run = useQuery({
    queryKey: runKey(runId),
    queryFn: async ({ signal }) =>
      unwrap(await api.GET('/v1/runs/{id}', { params: { path: { id: runId } }, signal })),
    // The run moves on by itself: read it fresh whenever the page opens.
    staleTime: 0,
  });
  const interaction = run.data?.pending_interaction ?? null;
  const current = interaction !== null && interaction.interaction_id === interactionId;
  const title = current ? humanize(interaction.module_name) : 'Question';
  useDocumentTitle(title);

  // A new question (after answering the previous one) is announced by moving focus to its heading.
  useEffect(() => {
    if (current) heading.current?.focus();
  }, [current, interactionId]);

  if (run.isPending) {
    return (
      <section className="page">
        <h1>Question</h1>
        <Loading label="Loading the question" />
      </section>
    );
  }
  if (run.isError) {
    return (
      <section className="page">
        <h1>Question</h1>
        <ErrorNotice
          error={run.error}
          title={
            run.error instanceof ApiError && (run.error.status === 404 || run.error.status === 400)
              ? 'There is no such run'
              : undefined
          }
        />
        <p>
          <Link to="/inbox">Back to the inbox</Link>
        </p>
      </section>
    );
  }

  const data = run.data;
  return (
    <section className="page answer-page" aria-labelledby="question-heading">
      <p className="breadcrumbs">
        <Link to="/inbox">Inbox</Link>
        <span aria-hidden="true"> / </span>
        <span>{data.workflow_template_name}</span>
      </p>
      <h1 id="question-heading" ref={heading} tabIndex={-1}>
        {title}
      </h1>
      <p className="muted">
        {data.workflow_template_name} · project {data.project_name}
        {interaction && current ? ` · step ${interaction.step_id}` : ''}
      </p>
      <div role="status">{notice && <p className="notice notice-success">{notice}</p>}</div>
      {current && interaction.deadline && <DeadlineNote deadline={interaction.deadline} />}
      {current && (
        <RetryFeedbackNote
          runId={data.workflow_run_id}
          interactionId={interaction.interaction_id}
        />
      )}
      {current ? (
        <div className="answer-layout">
          <Question key={interaction.interaction_id} run={data} interaction={interaction} />
          <DisplayPanel items={displayOf(interaction.request)} />
        </div>
      ) : (
        <div className="notice">
          <p>This question is no longer waiting: it was answered, or the run moved on.</p>
          <p>
            {interaction ? (
              <Link to={answerPath(data.workflow_run_id, interaction.interaction_id)}>
                Go to the run’s current question
              </Link>
            ) : (
              <Link to="/inbox">Back to the inbox</Link>
            )}
          </p>
        </div>
      )}
    </section>
  );
}
