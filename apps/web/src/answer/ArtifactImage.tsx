import { useState, type ReactNode } from 'react';
import { artifactContentUrl, artifactPreviewUrl } from './media';

/**
 * An image artifact shown through its preview (a WebP of at most 512 px, light to load), falling
 * back to the original when there is no preview (an image type the server cannot read, or a
 * server without previews). `alt` is empty for an image the text beside it already names.
 */
export function ArtifactImage({
  artifactId,
  alt,
  className,
  previewUrl,
}: {
  artifactId: string;
  alt: string;
  className?: string;
  /** The metadata's `preview_url`, when known (else the usual preview path). */
  previewUrl?: string | null | undefined;
}) {
  const preview = previewUrl ?? artifactPreviewUrl(artifactId);
  const original = artifactContentUrl(artifactId);
  const [source, setSource] = useState<'preview' | 'original' | 'none'>(
    previewUrl === null ? 'original' : 'preview',
  );
  if (source === 'none') {
    return alt === '' ? null : <span className="muted">{alt} (the image cannot be shown)</span>;
  }
  return (
    <img
      className={className}
      src={source === 'preview' ? preview : original}
      alt={alt}
      loading="lazy"
      decoding="async"
      onError={() => setSource((current) => (current === 'preview' ? 'original' : 'none'))}
    />
  );
}

/** A link that opens an artifact's original bytes in a new tab. */
export function OriginalLink({
  artifactId,
  children,
}: {
  artifactId: string;
  children: ReactNode;
}) {
  return (
    <a href={artifactContentUrl(artifactId)} target="_blank" rel="noopener">
      {children}
      <span className="visually-hidden"> (opens in a new tab)</span>
    </a>
  );
}
