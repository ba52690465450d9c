/** The answer page of a run's question. */
export function answerPath(runId: string, interactionId: string): string {
  return `/runs/${encodeURIComponent(runId)}/interactions/${encodeURIComponent(interactionId)}`;
}
