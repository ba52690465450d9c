import type { ComponentType } from 'react';
import { createBrowserRouter, Navigate } from 'react-router';
import { RequireSession } from './auth/RequireSession';
import { AppShell } from './layout/AppShell';
import { InboxPage } from './pages/InboxPage';
import { InvitationPage } from './pages/InvitationPage';
import { NotFoundPage } from './pages/NotFoundPage';
import { SignInPage } from './pages/SignInPage';

/**
 * A page loaded when first opened, as its own chunk, so that the inbox (the usual first page)
 * stays small. The router loads the chunk before it shows the page (route `lazy`), keeping the
 * current page up meanwhile: no loading fallback flashes, and React's hold on content that
 * replaces a shown fallback (some 300 ms) does not apply.
 */
function lazyPage(load: () => Promise<{ default: ComponentType }>) {
  return async () => ({ Component: (await load()).default });
}

/** Every page lives under /app (the gateway serves index.html for any path there). */
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
        // The answer page carries the question renderers and markdown.
        {
          path: 'runs/:runId/interactions/:interactionId',
          lazy: lazyPage(() => import('./pages/AnswerPage')),
        },
        // The run workspace.
        { path: 'runs', lazy: lazyPage(() => import('./pages/RunsPage')) },
        { path: 'runs/:runId', lazy: lazyPage(() => import('./pages/RunPage')) },
        { path: 'runs/:runId/versions', lazy: lazyPage(() => import('./pages/VersionsPage')) },
        { path: 'templates', lazy: lazyPage(() => import('./pages/TemplatesPage')) },
        {
          path: 'templates/:templateName',
          lazy: lazyPage(() => import('./pages/TemplatesPage')),
        },
        // A version's impact report and the batch migration of the runs it lists.
        {
          path: 'templates/:templateName/versions/:versionId/impact',
          lazy: lazyPage(() => import('./impact/ImpactPage')),
        },
        // API keys and the password: visited rarely.
        { path: 'settings', lazy: lazyPage(() => import('./pages/SettingsPage')) },
        { path: '*', element: <NotFoundPage /> },
      ],
    },
  ],
  { basename: '/app' },
);
