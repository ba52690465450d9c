import type { ReactNode } from 'react';

/** The frame of the pages a person sees before signing in: a centred card with the name. */
export function AuthFrame({ title, children }: { title: string; children: ReactNode }) {
  return (
    <main id="main" className="auth-main">
      <div className="auth-card">
        <p className="brand auth-brand">Stepwise</p>
        <h1>{title}</h1>
        {children}
      </div>
    </main>
  );
}
