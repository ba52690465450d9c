/**
 * The artifacts a module's outputs name: `artifact_id` (artifact.save) and `artifact_ids` (a
 * person's uploads, an outside job's results). A module that stores files names them so, and the
 * event that records those outputs is what makes them immutable (effects.md, rule 6).
 */
export function artifactIdsOf(outputs: Record<string, unknown>): string[] {
  const ids: string[] = [];
  const single = outputs['artifact_id'];
  if (typeof single === 'string') ids.push(single);
  const many = outputs['artifact_ids'];
  if (Array.isArray(many)) ids.push(...many.filter((id): id is string => typeof id === 'string'));
  return ids;
}

/** The query on events' `data` that finds the one naming an artifact among its outputs. */
export function namingArtifact(artifactId: string) {
  return {
    $or: [{ 'data.outputs.artifact_id': artifactId }, { 'data.outputs.artifact_ids': artifactId }],
  };
}
