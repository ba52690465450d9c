/** What a page said on its way to another one (`navigate(to, {state: {notice}})`), if anything. */
export function noticeOf(state: unknown): string | null {
  if (typeof state !== 'object' || state === null) return null;
  const notice = (state as Record<string, unknown>)['notice'];
  return typeof notice === 'string' ? notice : null;
}
