import { createHash } from 'node:crypto';
import { mongo } from 'mongoose';

/**
 * Everything the migration creates is named from what it migrates, never at random or from the
 * clock: a run interrupted and run again ends in exactly the database one uninterrupted run makes.
 */
export function derivedHex(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\u0000')).digest('hex');
}

export function derivedObjectId(...parts: string[]): mongo.ObjectId {
  return new mongo.ObjectId(derivedHex(...parts).slice(0, 24));
}

export function derivedId(prefix: string, ...parts: string[]): string {
  return `${prefix}_${derivedHex(...parts).slice(0, 24)}`;
}
