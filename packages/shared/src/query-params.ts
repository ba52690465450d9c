import { z } from 'zod';
import { documented } from './schema-docs.js';

/**
 * A whole number in a query string, written as plain decimal digits. `z.coerce.number()` would
 * also take `1e1`, `0x10`, ` 7` or `1.0`, which a client generated from the document (an
 * `integer`) never sends and a person reading a log would not expect to work.
 */
const decimalDigits = /^(0|[1-9][0-9]{0,15})$/;

export function queryInteger(min: number, max: number) {
  const schema = z
    .string()
    .regex(decimalDigits, 'must be a whole number written in decimal digits')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));
  // Parsed from its decimal text, but to a client it is an integer.
  return documented(schema, (json) => {
    delete json['pattern'];
    delete json['format'];
    Object.assign(json, { type: 'integer', minimum: min, maximum: max });
  });
}
