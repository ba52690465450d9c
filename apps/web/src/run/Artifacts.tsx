import { Player } from '../answer/DisplayPanel';
import { useQuery } from '@tanstack/react-query';
import type { components } from '@stepwise/client';
import { ApiError, apiError } from '../api/client';
import { ArtifactImage } from '../answer/ArtifactImage';
import { artifactContentUrl, formatBytes, mediaKindOf } from '../answer/media';
import { describeError, ErrorNotice, Loading } from '../layout/Status';
import { clockTime, fullTime } from './format';
import { useArtifacts } from './queries';

type Artifact = components['schemas']['Artifact'];

/** How much of a text artifact is shown inline; the download has the rest. */
const TEXT_PREVIEW_BYTES = 64 * 1024;

function isJson(contentType: string): boolean {
  const type = contentType.split(';')[0]?.trim().toLowerCase() ?? '';
  return type === 'application/json' || type.endsWith('+json');
}

function isText(contentType: string): boolean {
  const type = contentType.split(';')[0]?.trim().toLowerCase() ?? '';
  return (
    type.startsWith('text/') ||
    isJson(type) ||
    [
      'application/xml',
      'application/yaml',
      'application/x-yaml',
      'application/javascript',
    ].includes(type)
  );
}

/** The first 64 KB of an artifact (one range request), as text; JSON pretty-printed when whole. */
async function fetchTextPreview(artifact: Artifact, signal: AbortSignal): Promise<string> {
  const response = await fetch(artifactContentUrl(artifact.artifact_id), {
    credentials: 'same-origin',
    headers: { Range: `bytes=0-${TEXT_PREVIEW_BYTES - 1}` },
    signal,
  });
  if (!response.ok) {
    let body: unknown = null;
    try {
      body = (await response.json()) as unknown;
    } catch {
      // not JSON: the status says enough
    }
    throw apiError(response, body);
  }
  const text = new TextDecoder().decode(await response.arrayBuffer());
  if (isJson(artifact.content_type) && artifact.size <= TEXT_PREVIEW_BYTES) {
    try {
      return JSON.stringify(JSON.parse(text) as unknown, null, 2);
    } catch {
      // Not valid JSON after all: shown as it is.
    }
  }
  return text;
}

function TextPreview({ artifact }: { artifact: Artifact }) {
  // An empty file has no byte 0 to ask for (the range would be refused with 416): nothing to fetch.
  const empty = artifact.size === 0;
  const preview = useQuery({
    queryKey: ['artifact-text', artifact.artifact_id],
    queryFn: ({ signal }) => fetchTextPreview(artifact, signal),
    // An artifact never changes once stored.
    staleTime: Infinity,
    enabled: !empty,
  });
  if (empty) return <p className="muted">(empty)</p>;
  if (preview.isPending) return <Loading label={`Loading ${artifact.name}`} />;
  if (preview.isError) {
    return (
      <p className="muted">
        The text cannot be shown: {describeError(preview.error)}
        {preview.error instanceof ApiError && preview.error.status === 404
          ? ' (it may have been deleted)'
          : ''}
      </p>
    );
  }
  const partial = artifact.size > TEXT_PREVIEW_BYTES;
  return (
    <>
      {/* Focusable: a long text scrolls, and keyboard users must be able to scroll it. */}
      <pre className="json artifact-text" tabIndex={0} aria-label={`The text of ${artifact.name}`}>
        {preview.data}
      </pre>
      {partial && (
        <p className="muted">
          The first {formatBytes(TEXT_PREVIEW_BYTES)} of {formatBytes(artifact.size)}: download it
          for the rest.
        </p>
      )}
    </>
  );
}

function Preview({ artifact }: { artifact: Artifact }) {
  const kind = mediaKindOf(artifact.content_type);
  const src = artifactContentUrl(artifact.artifact_id);
  if (kind === 'image')
    return (
      <ArtifactImage
        artifactId={artifact.artifact_id}
        alt={artifact.name}
        className="artifact-image"
      />
    );
  if (kind === 'video' || kind === 'audio')
    return <Player kind={kind} src={src} label={artifact.name} className="artifact-media" />;
  if (isText(artifact.content_type)) return <TextPreview artifact={artifact} />;
  return <p className="muted">No preview for {artifact.content_type}.</p>;
}

function ArtifactCard({ artifact }: { artifact: Artifact }) {
  return (
    <li className="artifact-card">
      <h3 className="artifact-name">{artifact.name}</h3>
      <p className="artifact-meta">
        {artifact.content_type} · {formatBytes(artifact.size)} · from{' '}
        <span className="mono">
          {artifact.step_id}.{artifact.module_name}
        </span>{' '}
        ·{' '}
        <time dateTime={artifact.created_at} title={fullTime(artifact.created_at)}>
          {clockTime(artifact.created_at)}
        </time>
        {artifact.kind !== 'deliverable' && ` · ${artifact.kind}`}
      </p>
      <Preview artifact={artifact} />
      <p className="artifact-download">
        <a href={artifactContentUrl(artifact.artifact_id)} download={artifact.name}>
          Download {artifact.name}
        </a>
      </p>
    </li>
  );
}

/** The files the run stored, newest first, each with an inline preview and a download link. */
export function ArtifactsSection({ runId }: { runId: string }) {
  const artifacts = useArtifacts(runId);
  const items = [...(artifacts.data ?? [])].reverse();
  return (
    <section className="run-panel" aria-labelledby="artifacts-heading">
      <h2 id="artifacts-heading">Artifacts</h2>
      {artifacts.isPending && <Loading label="Loading the artifacts" />}
      {artifacts.isError && <ErrorNotice error={artifacts.error} />}
      {artifacts.isSuccess && items.length === 0 && (
        <p className="muted">The run has stored no files.</p>
      )}
      {items.length > 0 && (
        <ul className="artifact-list" aria-label="Artifacts, newest first">
          {items.map((artifact) => (
            <ArtifactCard key={artifact.artifact_id} artifact={artifact} />
          ))}
        </ul>
      )}
    </section>
  );
}
