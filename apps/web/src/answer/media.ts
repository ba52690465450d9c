/**
 * A select option's `image` and an `artifact` display item may name an artifact by id instead of a
 * URL; its bytes are served at `GET /v1/artifacts/{artifact_id}/content` (same origin, cookie).
 */
const artifactId = /^art_[A-Za-z0-9_-]+$/;

export function artifactContentUrl(id: string): string {
  return `/v1/artifacts/${encodeURIComponent(id)}/content`;
}

/** The URL to load a media value from, or null when it is neither an artifact nor http(s). */
export function mediaUrl(value: string): string | null {
  const trimmed = value.trim();
  if (artifactId.test(trimmed)) return artifactContentUrl(trimmed);
  // Only web addresses: a `javascript:` or other scheme must never reach an src or href.
  if (/^https?:\/\//i.test(trimmed) || trimmed.startsWith('/')) return trimmed;
  if (/^data:image\//i.test(trimmed)) return trimmed;
  return null;
}
