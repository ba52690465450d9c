import { lazy, Suspense, type ReactNode } from 'react';
import { createBrowserRouter, Navigate } from 'react-router';
import { RequireSession } from './auth/RequireSession';
import { AppShell } from './layout/AppShell';
import { Loading } from './layout/Status';
import { InboxPage } from './pages/InboxPage';
import { InvitationPage } from './pages/InvitationPage';
import { NotFoundPage } from './pages/NotFoundPage';
import { SignInPage } from './pages/SignInPage';

// The answer page carries the question renderers and markdown: loaded when first opened, so the
// inbox (the usual first page) stays small.
const AnswerPage = lazy(() => import('./pages/AnswerPage'));
// Settings (API keys, password) is visited rarely: its own chunk too.
const SettingsPage = lazy(() => import('./pages/SettingsPage'));
// The run workspace: each page its own chunk, loaded when first opened.
const RunsPage = lazy(() => import('./pages/RunsPage'));
const RunPage = lazy(() => import('./pages/RunPage'));
const VersionsPage = lazy(() => import('./pages/VersionsPage'));
const TemplatesPage = lazy(() => import('./pages/TemplatesPage'));

function Lazy({ children }: { children: ReactNode }) {
  return <Suspense fallback={<Loading label="Loading the page" />}>{children}</Suspense>;
}

/** Every page lives under /app (the gateway serves index.html for any path there). */
function lazyPage(page: ReactNode) {
  return <Lazy>{page}</Lazy>;
}

export const router = createBrowserRouter(
  [
    { path: 'sign-in', element: <SignInPage /> },
    { path: 'invitation', element: <InvitationPage /> },
    {
      element: (
        <RequireSession>
          <AppShell />
        </RequireSession>
      ),
      children: [
        { index: true, element: <Navigate to="/inbox" replace /> },
        { path: 'inbox', element: <InboxPage /> },
        {
          path: 'runs/:runId/interactions/:interactionId',
          element: (
            <Lazy>
              <AnswerPage />
            </Lazy>
          ),
        },
        { path: 'runs', element: lazyPage(<RunsPage />) },
        { path: 'runs/:runId', element: lazyPage(<RunPage />) },
        { path: 'runs/:runId/versions', element: lazyPage(<VersionsPage />) },
        { path: 'templates', element: lazyPage(<TemplatesPage />) },
        { path: 'templates/:templateName', element: lazyPage(<TemplatesPage />) },
        {
          path: 'settings',
          element: (
            <Lazy>
              <SettingsPage />
            </Lazy>
          ),
        },
        { path: '*', element: <NotFoundPage /> },
      ],
    },
  ],
  { basename: '/app' },
);
