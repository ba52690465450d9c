import type { components } from '@stepwise/client';
import { api, ApiError, apiError, csrfHeaders } from './client';

/*
 * The media routes of media.md: an artifact's metadata (`GET /v1/artifacts/{artifact_id}`,
 * through the generated client) and a person's upload while a run waits on a `user.file_input`
 * (`POST /v1/runs/{id}/uploads`). The upload is sent with XMLHttpRequest, because fetch reports
 * no upload progress; it is same-origin with the session cookie and, being a write, carries
 * X-CSRF-Token like every write of `api` (client.ts).
 */

/** An artifact as the gateway describes it; `ArtifactDetail` adds where its bytes and preview are. */
export type ArtifactView = components['schemas']['Artifact'] &
  Partial<Pick<components['schemas']['ArtifactDetail'], 'content_url' | 'preview_url'>>;

export const artifactKey = (artifactId: string) => ['artifact', artifactId] as const;

/** An artifact's metadata: its name, content type, size, sha256 and preview. */
export async function fetchArtifact(
  artifactId: string,
  signal?: AbortSignal,
): Promise<ArtifactView> {
  const { data, error, response } = await api.GET('/v1/artifacts/{artifact_id}', {
    params: { path: { artifact_id: artifactId } },
    ...(signal ? { signal } : {}),
  });
  if (error !== undefined || data === undefined) throw apiError(response, error ?? null);
  return data;
}

export interface UploadOptions {
  /** Bytes sent so far, as the browser reports them. */
  onProgress?: (loaded: number, total: number) => void;
  signal?: AbortSignal;
}

/** The error an XMLHttpRequest answer (or its failure to get one) amounts to. */
function xhrError(xhr: XMLHttpRequest): ApiError {
  if (xhr.status === 0)
    return new ApiError(0, 'NETWORK', 'The upload did not reach the server.', null, null);
  let body: unknown = null;
  try {
    body = JSON.parse(xhr.responseText) as unknown;
  } catch {
    // not JSON: the status says enough
  }
  const retryAfter = xhr.getResponseHeader('retry-after');
  return apiError(
    new Response(null, {
      status: xhr.status,
      statusText: xhr.statusText,
      headers: retryAfter ? { 'retry-after': retryAfter } : {},
    }),
    body,
  );
}

/**
 * Uploads one file to the run's pending file question: its bytes as the body, its name in the
 * query. Resolves with the stored artifact (201); a refusal rejects with the gateway's ApiError
 * (413 too large, 415 not an accepted type, 409 the run waits on no file question).
 */
export function uploadFile(
  runId: string,
  interactionId: string,
  file: File,
  options: UploadOptions = {},
): Promise<ArtifactView> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    // The question it is for: refused (409) if the run has moved on since the page was opened.
    const query = new URLSearchParams({ name: file.name, interaction_id: interactionId });
    const url = `/v1/runs/${encodeURIComponent(runId)}/uploads?${query.toString()}`;
    xhr.open('POST', url);
    xhr.setRequestHeader('Accept', 'application/json');
    // The gateway decides the type from the bytes; this is only what the browser guessed.
    xhr.setRequestHeader('Content-Type', file.type || 'application/octet-stream');
    for (const [name, value] of Object.entries(csrfHeaders())) xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (event) => {
      options.onProgress?.(event.loaded, event.lengthComputable ? event.total : file.size);
    };
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        try {
          resolve(JSON.parse(xhr.responseText) as ArtifactView);
        } catch {
          reject(
            new ApiError(
              xhr.status,
              'BAD_ANSWER',
              'The server’s answer was not understood.',
              null,
              null,
            ),
          );
        }
        return;
      }
      reject(xhrError(xhr));
    };
    xhr.onerror = () => reject(xhrError(xhr));
    xhr.onabort = () => reject(new DOMException('The upload was cancelled.', 'AbortError'));
    if (options.signal) {
      if (options.signal.aborted) {
        reject(new DOMException('The upload was cancelled.', 'AbortError'));
        return;
      }
      options.signal.addEventListener('abort', () => xhr.abort(), { once: true });
    }
    xhr.send(file);
  });
}
