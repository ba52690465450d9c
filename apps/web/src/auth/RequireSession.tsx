import type { ReactNode } from 'react';
import { Navigate, useLocation } from 'react-router';
import { useSession } from './session';
import { Loading, ErrorNotice } from '../layout/Status';

/**
 * Pages behind a session: a visitor who is not signed in goes to sign-in, with the page they
 * wanted in `next` so that they come back to it afterwards.
 */
export function RequireSession({ children }: { children: ReactNode }) {
  const session = useSession();
  const location = useLocation();
  if (session.isPending) return <Loading label="Checking your session" />;
  if (session.isError) return <ErrorNotice error={session.error} />;
  if (session.data === null) {
    const next = location.pathname + location.search + location.hash;
    return <Navigate to={`/sign-in?next=${encodeURIComponent(next)}`} replace />;
  }
  return children;
}

/** Where to go after signing in: `next` when it is a page of this app, else the inbox. */
export function nextPage(search: URLSearchParams): string {
  const next = search.get('next');
  // Only a path of the app: an absolute URL or `//host` would send the person elsewhere.
  return next !== null && next.startsWith('/') && !next.startsWith('//') ? next : '/inbox';
}
