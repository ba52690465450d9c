import type { Connection } from 'mongoose';
import { startProcess } from './processes.js';

/**
 * What the migration tests need to show that a command killed at any point and started again ends
 * where one uninterrupted run ends: the command killed at growing, jittered delays until a run
 * of it finishes, and the whole database to compare.
 */

/**
 * Starts `script` again and again, each time SIGKILLed after a delay that grows with the attempt
 * (jittered, so the kills land at different points of its work), until one run exits by itself.
 * Returns how many runs were killed and the exit code of the one that finished (null if none did).
 */
export async function killRepeatedly(
  script: string,
  args: string[],
  options: { attempts: number; firstDelayMs: number; stepMs: number; jitterMs: number },
): Promise<{ kills: number; finished: number | string | null }> {
  let kills = 0;
  for (let attempt = 0; attempt < options.attempts; attempt++) {
    const child = startProcess(script, args, {});
    const delay =
      options.firstDelayMs +
      attempt * options.stepMs +
      Math.floor(Math.random() * options.jitterMs);
    const interrupted = await Promise.race([
      child.exited.then(() => false),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(true), delay)),
    ]);
    if (!interrupted) return { kills, finished: await child.exited };
    child.child.kill('SIGKILL');
    await child.exited;
    kills++;
  }
  return { kills, finished: null };
}

/** Every document of every collection, by collection and _id: the whole database, to compare. */
export async function dumpDatabase(connection: Connection): Promise<Record<string, unknown[]>> {
  const db = connection.db;
  if (!db) throw new Error('not connected');
  const result: Record<string, unknown[]> = {};
  for (const { name } of (await db.listCollections().toArray()).sort((a, b) =>
    a.name.localeCompare(b.name),
  )) {
    result[name] = await db.collection(name).find().sort({ _id: 1 }).toArray();
  }
  return result;
}
