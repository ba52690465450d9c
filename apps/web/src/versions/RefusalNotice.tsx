import { ApiError } from '../api/client';
import { describeError } from '../layout/Status';

/** A refusal in words, with each problem the server found named by its path. */
export function RefusalNotice({ error, title }: { error: unknown; title?: string }) {
  const problems = error instanceof ApiError ? error.problems : [];
  const message = describeError(error);
  // A refused workflow's message is often its problems joined: said once, as the list.
  const restated =
    message === problems.map((problem) => `${problem.path}: ${problem.message}`).join('; ');
  return (
    <div className="notice notice-error" role="alert">
      {title !== undefined && <p className="notice-title">{title}</p>}
      {!(restated && problems.length > 0) && <p>{message}</p>}
      {problems.length > 0 && (
        <ul className="problem-list">
          {problems.map((problem) => (
            <li key={`${problem.path}:${problem.message}`}>
              <span className="mono">{problem.path || '(the whole file)'}</span>: {problem.message}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
