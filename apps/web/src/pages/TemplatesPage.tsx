import { useDocumentTitle } from '../util/title';

/** Placeholder: being built (issue 19). */
export default function TemplatesPage() {
  useDocumentTitle('Templates');
  return (
    <section className="page" aria-labelledby="templates-heading">
      <h1 id="templates-heading">Templates</h1>
    </section>
  );
}
