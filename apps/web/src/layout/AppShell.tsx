import { useMutation } from '@tanstack/react-query';
import { NavLink, Outlet, useNavigate } from 'react-router';
import { api, unwrap } from '../api/client';
import { useSession, useSignedOut } from '../auth/session';
import { useUserStream } from '../inbox/useUserStream';
import { WebhookDisabledNotice } from '../settings/WebhookDisabledNotice';
import { ErrorNotice } from './Status';

/** The pages in the navigation (a run's own pages are reached from Runs and the inbox). */
const navigation = [
  { to: '/inbox', label: 'Inbox' },
  { to: '/runs', label: 'Runs' },
  { to: '/templates', label: 'Templates' },
  { to: '/settings', label: 'Settings' },
] as const;

export function AppShell() {
  const session = useSession();
  const signedOut = useSignedOut();
  const navigate = useNavigate();
  const signOut = useMutation({
    mutationFn: async () => unwrap(await api.DELETE('/v1/me/session')),
    onSuccess: () => {
      signedOut();
      void navigate('/sign-in', { replace: true });
    },
  });
  const user = session.data?.user;
  // The inbox stays live on every page, so its count is current when the person comes back.
  useUserStream(user !== undefined);

  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="app-header">
        <div className="app-header-inner">
          <span className="brand">Stepwise</span>
          <nav aria-label="Main">
            <ul className="nav-list">
              {navigation.map((item) => (
                <li key={item.to}>
                  <NavLink to={item.to} className="nav-link">
                    {item.label}
                  </NavLink>
                </li>
              ))}
            </ul>
          </nav>
          <div className="account">
            {user && (
              <span className="account-name" title={user.email}>
                {user.username}
              </span>
            )}
            <button
              type="button"
              className="button button-quiet"
              onClick={() => signOut.mutate()}
              disabled={signOut.isPending}
            >
              {signOut.isPending ? 'Signing out…' : 'Sign out'}
            </button>
          </div>
        </div>
      </header>
      <main id="main" className="app-main" tabIndex={-1}>
        {signOut.isError && <ErrorNotice error={signOut.error} title="Signing out failed" />}
        <WebhookDisabledNotice enabled={user !== undefined} />
        <Outlet />
      </main>
    </>
  );
}
