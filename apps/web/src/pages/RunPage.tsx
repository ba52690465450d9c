import { useDocumentTitle } from '../util/title';

/** Placeholder: being built (issue 19). */
export default function RunPage() {
  useDocumentTitle('Run');
  return (
    <section className="page" aria-labelledby="run-heading">
      <h1 id="run-heading">Run</h1>
    </section>
  );
}
