import { useQuery } from '@tanstack/react-query';
import type { components } from '@stepwise/client';
import { artifactKey, fetchArtifact, type ArtifactView } from '../api/artifacts';
import { ApiError } from '../api/client';
import { Loading } from '../layout/Status';
import { ArtifactImage, OriginalLink } from './ArtifactImage';
import { LazyMarkdown } from './LazyMarkdown';
import { artifactContentUrl, artifactIdOf, formatBytes, mediaKindOf, mediaUrl } from './media';

type DisplayItem = components['schemas']['DisplayItem'];

function Unshowable({ value }: { value: string }) {
  return <p className="pre-wrap muted">{value}</p>;
}

/** A clip or a sound, with the browser's controls (beside a question, on the run page). */
export function Player({
  kind,
  src,
  label,
  className = 'display-media',
}: {
  kind: 'audio' | 'video';
  src: string;
  label: string;
  className?: string;
}) {
  // preload="metadata": the duration and first frame, not the whole file, until played (the
  // gateway answers range requests, so playing and seeking fetch only what they need).
  return kind === 'video' ? (
    <video className={className} controls preload="metadata" src={src} aria-label={label} />
  ) : (
    <audio className={className} controls preload="metadata" src={src} aria-label={label} />
  );
}

/** An image artifact: its preview, with a link to the original. */
function ArtifactPicture({
  artifactId,
  label,
  artifact,
}: {
  artifactId: string;
  label: string;
  artifact?: ArtifactView;
}) {
  return (
    <figure className="display-figure">
      <ArtifactImage
        artifactId={artifactId}
        alt={label}
        className="display-image"
        previewUrl={artifact?.preview_url}
      />
      <figcaption>
        <OriginalLink artifactId={artifactId}>
          Open the original
          {artifact ? ` (${artifact.name}, ${formatBytes(artifact.size)})` : ''}
        </OriginalLink>
      </figcaption>
    </figure>
  );
}

/** The link that downloads an artifact under its own name. */
function DownloadLink({ artifact }: { artifact: ArtifactView }) {
  return (
    <a href={artifactContentUrl(artifact.artifact_id)} download={artifact.name}>
      Download {artifact.name}
      <span className="muted">
        {' '}
        ({artifact.content_type}, {formatBytes(artifact.size)})
      </span>
    </a>
  );
}

/**
 * An `artifact` item: its metadata says what it is, and it is shown as such (an image preview, a
 * player, else a download link). Without metadata (an unknown artifact, an older server), a link.
 */
function ArtifactItem({ value, label }: { value: string; label: string }) {
  const artifactId = artifactIdOf(value);
  const meta = useQuery({
    queryKey: artifactKey(artifactId ?? ''),
    queryFn: ({ signal }) => fetchArtifact(artifactId ?? '', signal),
    enabled: artifactId !== null,
    // An artifact never changes once stored.
    staleTime: Infinity,
  });
  if (artifactId === null) return <Unshowable value={value} />;
  if (meta.isPending) return <Loading label={`Loading ${label}`} />;
  if (meta.isError) {
    return (
      <p>
        <OriginalLink artifactId={artifactId}>
          Open the artifact <span className="mono">{artifactId}</span>
        </OriginalLink>
        {meta.error instanceof ApiError && meta.error.status === 404 && (
          <span className="muted"> (it may have been deleted)</span>
        )}
      </p>
    );
  }
  const artifact = meta.data;
  const kind = mediaKindOf(artifact.content_type);
  if (kind === 'image')
    return <ArtifactPicture artifactId={artifactId} label={label} artifact={artifact} />;
  if (kind === 'video' || kind === 'audio') {
    return (
      <div className="stack-tight">
        <Player kind={kind} src={artifactContentUrl(artifactId)} label={label} />
        <p className="display-caption">
          <DownloadLink artifact={artifact} />
        </p>
      </div>
    );
  }
  return (
    <p>
      <DownloadLink artifact={artifact} />
    </p>
  );
}

function DisplayValue({ item }: { item: DisplayItem }) {
  if (item.kind === 'json') {
    // Focusable: a long value scrolls, and keyboard users must be able to scroll it.
    return (
      <pre className="json" tabIndex={0} aria-label={`${item.label} (JSON)`}>
        {JSON.stringify(item.value, null, 2)}
      </pre>
    );
  }
  const value = item.value;
  switch (item.kind) {
    case 'text':
      return <p className="pre-wrap">{value}</p>;
    case 'markdown':
      return <LazyMarkdown text={value} headingsFrom={4} />;
    case 'image': {
      const artifactId = artifactIdOf(value);
      if (artifactId) return <ArtifactPicture artifactId={artifactId} label={item.label} />;
      const src = mediaUrl(value);
      return src ? (
        <img className="display-image" src={src} alt={item.label} />
      ) : (
        <Unshowable value={value} />
      );
    }
    case 'audio':
    case 'video': {
      const src = mediaUrl(value);
      return src ? (
        <Player kind={item.kind} src={src} label={item.label} />
      ) : (
        <Unshowable value={value} />
      );
    }
    case 'artifact':
      return <ArtifactItem value={value} label={item.label} />;
  }
}

/** The context a workflow shows beside its question (`display`), one titled item after another. */
export function DisplayPanel({ items }: { items: DisplayItem[] }) {
  if (items.length === 0) return null;
  return (
    <aside className="context" aria-labelledby="context-heading">
      <h2 id="context-heading">Context</h2>
      {items.map((item, index) => (
        <section className="context-item" key={index} aria-label={item.label}>
          <h3>{item.label}</h3>
          <DisplayValue item={item} />
        </section>
      ))}
    </aside>
  );
}
