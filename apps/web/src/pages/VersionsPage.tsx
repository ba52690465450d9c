import { useDocumentTitle } from '../util/title';

/** Placeholder: being built (issue 19). */
export default function VersionsPage() {
  useDocumentTitle('Versions');
  return (
    <section className="page" aria-labelledby="versions-heading">
      <h1 id="versions-heading">Versions</h1>
    </section>
  );
}
