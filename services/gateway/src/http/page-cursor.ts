import { BadRequestError, idPattern, type IdKind } from '@stepwise/shared';

/**
 * The opaque cursor of a list ordered newest first by creation time, the id breaking ties: where
 * the last page ended. Clients get it as `next_cursor` and may only hand it back; anything else is
 * 400. Runs, versions (migrated ids need not sort by time, legacy.md), impact reports and webhook
 * deliveries page this way.
 */
export interface TimeCursor {
  createdAt: Date;
  id: string;
}

export function encodeTimeCursor(position: TimeCursor): string {
  return Buffer.from(`${position.createdAt.getTime()}:${position.id}`).toString('base64url');
}

function refusedCursor(): BadRequestError {
  return new BadRequestError('invalid cursor', [
    { path: 'query.cursor', message: 'not a cursor this API gave out' },
  ]);
}

/**
 * Reads a cursor back, refusing anything that is not exactly what `encodeTimeCursor` makes of an
 * id of `kind`: base64url decoding skips what it cannot read, so a cursor must also encode back to
 * itself.
 */
export function decodeTimeCursor(cursor: string, kind: IdKind): TimeCursor {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const separator = text.indexOf(':');
  const time = text.slice(0, separator);
  const id = text.slice(separator + 1);
  if (separator <= 0 || !/^\d{1,15}$/.test(time) || !idPattern(kind).test(id))
    throw refusedCursor();
  const position = { createdAt: new Date(Number(time)), id };
  if (Number.isNaN(position.createdAt.getTime()) || encodeTimeCursor(position) !== cursor)
    throw refusedCursor();
  return position;
}

/** What comes after `cursor` in newest-first order over `created_at`, then `idField`. */
export function afterTimeCursor(cursor: TimeCursor, idField: string): Record<string, unknown> {
  return {
    $or: [
      { created_at: { $lt: cursor.createdAt } },
      { created_at: cursor.createdAt, [idField]: { $lt: cursor.id } },
    ],
  };
}
