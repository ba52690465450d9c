import type { paths } from '@stepwise/client';
import type { FieldProblem } from '../api/client';

/** An answer's `response`, as the contract types it (one shape per module, or a plugin's object). */
export type AnswerResponse =
  paths['/v1/runs/{id}/interactions/{interaction_id}']['post']['requestBody']['content']['application/json']['response'];

export interface QuestionProps<Request> {
  request: Request;
  /** True while an answer is on its way: the submit button is disabled. */
  sending: boolean;
  /** The gateway's 422 details (`path` like `response.values.title`), shown at their field. */
  problems: FieldProblem[];
  onAnswer: (response: AnswerResponse) => void;
}

/** The messages the gateway gave for one path (and the paths below it). */
export function problemsAt(problems: FieldProblem[], path: string): string[] {
  return problems
    .filter(
      (problem) =>
        problem.path === path ||
        problem.path.startsWith(`${path}.`) ||
        problem.path.startsWith(`${path}[`),
    )
    .map((problem) => problem.message);
}
