/**
 * A select option's `image` and a media `display` item may name an artifact by id instead of a
 * URL. Its bytes are served at `GET /v1/artifacts/{artifact_id}/content` (same origin, cookie;
 * range requests, so audio and video can seek), an image's WebP preview (at most 512 px) at
 * `…/preview`, and its metadata at `GET /v1/artifacts/{artifact_id}`.
 */
const artifactIdPattern = /^art_[A-Za-z0-9_-]+$/;

/** The artifact id a media value names, or null when it is a URL or anything else. */
export function artifactIdOf(value: string): string | null {
  const trimmed = value.trim();
  return artifactIdPattern.test(trimmed) ? trimmed : null;
}

export function artifactContentUrl(id: string): string {
  return `/v1/artifacts/${encodeURIComponent(id)}/content`;
}

export function artifactPreviewUrl(id: string): string {
  return `/v1/artifacts/${encodeURIComponent(id)}/preview`;
}

/** The URL to load a media value from, or null when it is neither an artifact nor http(s). */
export function mediaUrl(value: string): string | null {
  const trimmed = value.trim();
  const artifact = artifactIdOf(trimmed);
  if (artifact) return artifactContentUrl(artifact);
  // Only web addresses: a `javascript:` or other scheme must never reach an src or href.
  if (/^https?:\/\//i.test(trimmed) || trimmed.startsWith('/')) return trimmed;
  if (/^data:image\//i.test(trimmed)) return trimmed;
  return null;
}

/** How a browser can show a content type: as an image, a player, or only as a download. */
export function mediaKindOf(contentType: string): 'image' | 'video' | 'audio' | 'other' {
  const type = contentType.split(';')[0]?.trim().toLowerCase() ?? '';
  if (type.startsWith('image/')) return 'image';
  if (type.startsWith('video/')) return 'video';
  if (type.startsWith('audio/')) return 'audio';
  return 'other';
}

/** A size for people: 512 bytes, 12.3 KB, 4.5 MB (powers of 1024, as file managers show). */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const digits = value < 10 ? 1 : 0;
  return `${value.toFixed(digits).replace(/\.0$/, '')} ${units[unit]}`;
}
