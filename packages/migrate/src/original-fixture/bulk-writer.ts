import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { mongo } from 'mongoose';

type Db = mongo.Db;
type Document = Record<string, unknown>;

/**
 * Buffers documents per collection and writes them with large unordered insertMany calls, a few
 * in flight at once; gives every document a deterministic ObjectId (the driver would draw random
 * ones) whose leading seconds are the document's own time, as the original's driver-made ids were.
 */
export class BulkWriter {
  private readonly buffers = new Map<string, Document[]>();
  private readonly inFlight: Promise<unknown>[] = [];
  private readonly counts = new Map<string, number>();
  private counter = 0;
  private readonly files: Promise<void>[] = [];
  private readonly createdDirs = new Set<string>();
  private firstError: unknown = null;

  constructor(
    private readonly db: Db,
    private readonly idTag: string,
    private readonly batchSize = 5000,
    private readonly maxInFlight = 4,
  ) {}

  async add(collection: string, doc: Document, at: Date): Promise<void> {
    const seconds = Math.floor(at.getTime() / 1000)
      .toString(16)
      .padStart(8, '0')
      .slice(-8);
    const counter = (this.counter++).toString(16).padStart(10, '0');
    const withId: Document = {
      _id: new mongo.ObjectId(`${seconds}${this.idTag}${counter}`),
      ...doc,
    };
    let buffer = this.buffers.get(collection);
    if (!buffer) {
      buffer = [];
      this.buffers.set(collection, buffer);
    }
    buffer.push(withId);
    this.counts.set(collection, (this.counts.get(collection) ?? 0) + 1);
    if (buffer.length >= this.batchSize) await this.flushCollection(collection);
  }

  async writeFileBytes(path: string, bytes: Buffer): Promise<void> {
    const dir = dirname(path);
    if (!this.createdDirs.has(dir)) {
      this.createdDirs.add(dir);
      await mkdir(dir, { recursive: true });
    }
    this.files.push(writeFile(path, bytes));
    if (this.files.length >= 256) await Promise.all(this.files.splice(0));
  }

  count(collection: string): number {
    return this.counts.get(collection) ?? 0;
  }

  private async flushCollection(collection: string): Promise<void> {
    const buffer = this.buffers.get(collection);
    if (!buffer || buffer.length === 0) return;
    this.buffers.set(collection, []);
    // Caught at once so a failure is never an unhandled rejection; close() rethrows it.
    this.inFlight.push(
      this.db
        .collection(collection)
        .insertMany(buffer, { ordered: false })
        .catch((error: unknown) => {
          this.firstError ??= error;
        }),
    );
    if (this.inFlight.length >= this.maxInFlight) await this.inFlight.shift();
  }

  async close(): Promise<void> {
    for (const collection of [...this.buffers.keys()]) await this.flushCollection(collection);
    await Promise.all(this.inFlight.splice(0));
    await Promise.all(this.files.splice(0));
    if (this.firstError) throw this.firstError;
  }
}
