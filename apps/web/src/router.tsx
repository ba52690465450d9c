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

function Lazy({ children }: { children: ReactNode }) {
  return <Suspense fallback={<Loading label="Loading the page" />}>{children}</Suspense>;
}

/**
 * Every page lives under /app (the gateway serves index.html for any path there). Room is left
 * for the pages of later issues: runs/:runId (Run), runs/:runId/versions (Versions), templates;
 * the navigation in AppShell lists them as they arrive.
 */
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
