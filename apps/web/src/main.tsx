import { MutationCache, QueryCache, QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { RouterProvider } from 'react-router';
import { ApiError, setCsrfToken } from './api/client';
import { sessionKey } from './auth/session';
import { router } from './router';
import './styles.css';

/**
 * A 401 on any request means the session ended (idle timeout, sign-out elsewhere, a password
 * change): forgetting it sends the person to sign-in, with `next` pointing back here.
 */
function onError(error: unknown): void {
  if (error instanceof ApiError && error.status === 401) {
    setCsrfToken(null);
    queryClient.setQueryData(sessionKey, null);
  }
}

const queryClient: QueryClient = new QueryClient({
  queryCache: new QueryCache({ onError }),
  mutationCache: new MutationCache({ onError }),
  defaultOptions: {
    queries: {
      // The inbox is kept current by the user stream; refetching on every focus adds nothing.
      refetchOnWindowFocus: false,
      staleTime: 30_000,
      // A refusal (4xx) will not change by asking again; a network error or a 5xx may.
      retry: (count, error) =>
        count < 2 && !(error instanceof ApiError && error.status >= 400 && error.status < 500),
    },
  },
});

const root = document.getElementById('root');
if (!root) throw new Error('index.html has no #root');

createRoot(root).render(
  <StrictMode>
    <QueryClientProvider client={queryClient}>
      <RouterProvider router={router} />
    </QueryClientProvider>
  </StrictMode>,
);
