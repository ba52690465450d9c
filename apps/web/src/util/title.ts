import { useEffect } from 'react';

/** Sets the tab title as `<title> · Stepwise` while the page is shown. */
export function useDocumentTitle(title: string): void {
  useEffect(() => {
    document.title = `${title} · Stepwise`;
  }, [title]);
}
