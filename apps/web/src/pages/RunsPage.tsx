import { useDocumentTitle } from '../util/title';

/** Placeholder: being built (issue 19). */
export default function RunsPage() {
  useDocumentTitle('Runs');
  return (
    <section className="page" aria-labelledby="runs-heading">
      <h1 id="runs-heading">Runs</h1>
    </section>
  );
}
