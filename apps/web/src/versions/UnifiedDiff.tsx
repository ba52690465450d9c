import { diffLines, type DiffLine } from './presenters';

/**
 * One line of a diff. Its +/- prefix stays in the text, and an added or removed line is an
 * `<ins>` or `<del>`: what changed is told by more than its colour.
 */
function DiffRow({ line }: { line: DiffLine }) {
  const className = `diff-line diff-${line.kind}`;
  if (line.kind === 'added') return <ins className={className}>{line.text}</ins>;
  if (line.kind === 'removed') return <del className={className}>{line.text}</del>;
  return <span className={className}>{line.text}</span>;
}

/** A unified diff of one changed text (an input, a template, a prompt), as the server made it. */
export function UnifiedDiff({ caption, diff }: { caption: string; diff: string }) {
  const lines = diffLines(diff);
  return (
    <figure className="diff">
      <figcaption className="diff-caption">
        <code>{caption}</code>
      </figcaption>
      <pre className="diff-text">
        {lines.map((line, index) => (
          // A diff's lines have no identity but their place, and they never reorder.
          <DiffRow key={index} line={line} />
        ))}
      </pre>
    </figure>
  );
}
