import type { components } from '@stepwise/client';
import { LazyMarkdown } from './LazyMarkdown';
import { artifactContentUrl, mediaUrl } from './media';

type DisplayItem = components['schemas']['DisplayItem'];

function Unshowable({ value }: { value: string }) {
  return <p className="pre-wrap muted">{value}</p>;
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
      const src = mediaUrl(value);
      return src ? (
        <img className="display-image" src={src} alt={item.label} />
      ) : (
        <Unshowable value={value} />
      );
    }
    case 'audio': {
      const src = mediaUrl(value);
      return src ? (
        <audio
          className="display-media"
          controls
          preload="metadata"
          src={src}
          aria-label={item.label}
        />
      ) : (
        <Unshowable value={value} />
      );
    }
    case 'video': {
      const src = mediaUrl(value);
      return src ? (
        <video
          className="display-media"
          controls
          preload="metadata"
          src={src}
          aria-label={item.label}
        />
      ) : (
        <Unshowable value={value} />
      );
    }
    case 'artifact':
      return (
        <p>
          <a href={artifactContentUrl(value.trim())} target="_blank" rel="noopener">
            Open the artifact <span className="mono">{value}</span>
            <span className="visually-hidden"> (opens in a new tab)</span>
          </a>
        </p>
      );
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
