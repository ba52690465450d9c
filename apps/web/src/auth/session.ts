import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useCallback } from 'react';
import { ApiError, api, apiError, setCsrfToken } from '../api/client';
import type { components } from '@stepwise/client';

type Session = components['schemas']['Session'];

export const sessionKey = ['session'] as const;

/** The signed-in session, or null when the cookie names none (401). */
async function fetchSession(): Promise<Session | null> {
  const { data, error, response } = await api.GET('/v1/me/session');
  if (response.status === 401 || response.status === 404) {
    setCsrfToken(null);
    return null;
  }
  if (!data) throw apiError(response, error);
  setCsrfToken(data.csrf_token);
  return data;
}

export function useSession() {
  return useQuery({
    queryKey: sessionKey,
    queryFn: fetchSession,
    staleTime: 5 * 60_000,
    retry: (count, error) => !(error instanceof ApiError) && count < 2,
  });
}

/** Records a session the gateway just started (sign-in, invitation), without asking again. */
export function useSignedIn(): (session: Session) => void {
  const client = useQueryClient();
  return useCallback(
    (session: Session) => {
      setCsrfToken(session.csrf_token);
      client.setQueryData(sessionKey, session);
    },
    [client],
  );
}

/** Forgets everything the signed-in person saw: another person may sign in next. */
export function useSignedOut(): () => void {
  const client = useQueryClient();
  return useCallback(() => {
    setCsrfToken(null);
    client.clear();
    client.setQueryData(sessionKey, null);
  }, [client]);
}
