import { Link } from 'react-router';
import { useDocumentTitle } from '../util/title';

export function NotFoundPage() {
  useDocumentTitle('Not found');
  return (
    <section className="page">
      <h1>Page not found</h1>
      <p>
        There is no page here. <Link to="/inbox">Go to your inbox</Link>.
      </p>
    </section>
  );
}
