import type { ReactNode } from 'react';
import ReactMarkdown, { type Components } from 'react-markdown';

type Level = 1 | 2 | 3 | 4 | 5 | 6;

/**
 * Markdown headings of a workflow's text would break the page's heading order (an `# Draft`
 * inside a level-3 section): they are shifted to start at `headingsFrom`, or, without it, shown as
 * bold paragraphs.
 */
function headings(from: Level | undefined): Components {
  const make = (depth: number) => {
    function Heading({ children }: { children?: ReactNode }) {
      if (from === undefined) return <p className="markdown-heading">{children}</p>;
      const level = Math.min(6, from + depth);
      const Tag = `h${level}` as 'h1' | 'h2' | 'h3' | 'h4' | 'h5' | 'h6';
      return <Tag>{children}</Tag>;
    }
    return Heading;
  };
  return { h1: make(0), h2: make(1), h3: make(2), h4: make(3), h5: make(4), h6: make(5) };
}

/**
 * Markdown from a workflow (an LLM draft, a description): react-markdown renders no raw HTML (it
 * is shown as text), and its default URL transform drops unsafe link schemes. Loaded lazily
 * through LazyMarkdown, so its parser is fetched only when a question needs it.
 */
export default function Markdown({ text, headingsFrom }: { text: string; headingsFrom?: Level }) {
  return (
    <div className="markdown">
      <ReactMarkdown components={headings(headingsFrom)}>{text}</ReactMarkdown>
    </div>
  );
}
