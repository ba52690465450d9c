import type { FieldProblem } from '../api/client';

/** The gateway's `details`, each by its path: where in the document or the form, and what. */
export function ProblemList({ problems, label }: { problems: FieldProblem[]; label: string }) {
  if (problems.length === 0) return null;
  return (
    <ul className="problem-list" aria-label={label}>
      {problems.map((problem, index) => (
        <li key={`${index}:${problem.path}`}>
          <code className="problem-path">{problem.path === '' ? '(top level)' : problem.path}</code>
          <span className="problem-message">{problem.message}</span>
        </li>
      ))}
    </ul>
  );
}
