import { lazy, Suspense } from 'react';

const Markdown = lazy(() => import('./Markdown'));

/** Markdown, with the plain text shown until the renderer has loaded. */
export function LazyMarkdown({ text, headingsFrom }: { text: string; headingsFrom?: 4 | 5 | 6 }) {
  return (
    <Suspense fallback={<div className="pre-wrap">{text}</div>}>
      <Markdown text={text} {...(headingsFrom !== undefined ? { headingsFrom } : {})} />
    </Suspense>
  );
}
