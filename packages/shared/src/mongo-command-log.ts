import { appendFileSync } from 'node:fs';
import type { Connection } from 'mongoose';

/**
 * A record of the commands a service sends to MongoDB (MONGO_COMMAND_LOG), one JSON line each, for
 * the test that checks every query on a sharded collection carries its shard key
 * (docs/scaling.md, "MongoDB sharding"). Not meant for production: each line is appended
 * synchronously, so the file is complete the moment a process is stopped, however it stops.
 */
export interface MongoCommandLogOptions {
  /** The file the lines are appended to (created if missing; several processes may share it). */
  file: string;
  /** Written into every line, so that one file can hold the commands of several services. */
  service: string;
}

/** One line of the log. */
export interface LoggedMongoCommand {
  service: string;
  command: string;
  databaseName: string;
  /** The collection the command is about, when it names one. */
  collection: string | null;
  /**
   * What selects the documents: a find's, count's, distinct's or findAndModify's filter, the first
   * `$match` of an aggregate (`{}` when the pipeline starts otherwise); for update and delete, the
   * list of their statements' filters.
   */
  filter?: unknown;
  /** An insert's documents, each reduced to its top-level scalar fields (ids, numbers, dates). */
  documents?: Record<string, unknown>[];
  /** The command's `comment`, which names a declared scatter-gather query (shard-keys.ts). */
  comment?: string;
  /** Sent inside a multi-document transaction (`autocommit: false`); Stepwise never does. */
  inTransaction?: true;
}

type Command = Record<string, unknown>;

const asList = (value: unknown): Command[] =>
  Array.isArray(value) ? value.filter((item): item is Command => typeof item === 'object') : [];

function firstMatch(pipeline: unknown): unknown {
  const first = asList(pipeline)[0];
  return first && '$match' in first ? first['$match'] : {};
}

/** The part of a command that selects documents, by command name (see LoggedMongoCommand). */
function filterOf(name: string, command: Command): unknown {
  switch (name) {
    case 'find':
      return command['filter'] ?? {};
    case 'count':
    case 'distinct':
    case 'findAndModify':
      return command['query'] ?? {};
    case 'aggregate':
      return firstMatch(command['pipeline']);
    case 'update':
      return asList(command['updates']).map((statement) => statement['q'] ?? {});
    case 'delete':
      return asList(command['deletes']).map((statement) => statement['q'] ?? {});
    default:
      return undefined;
  }
}

function isScalar(value: unknown): boolean {
  if (value === null || ['string', 'number', 'boolean'].includes(typeof value)) return true;
  if (value instanceof Date) return true;
  // ObjectId and the like: a BSON value whose JSON form is a string.
  const bson = value as { _bsontype?: unknown; toHexString?: unknown };
  return bson._bsontype === 'ObjectId' || typeof bson.toHexString === 'function';
}

function scalarFields(document: Command): Record<string, unknown> {
  return Object.fromEntries(Object.entries(document).filter(([, value]) => isScalar(value)));
}

/** What one commandStarted event becomes in the log. */
export function describeMongoCommand(
  service: string,
  name: string,
  databaseName: string,
  command: Command,
): LoggedMongoCommand {
  const target = command[name];
  const line: LoggedMongoCommand = {
    service,
    command: name,
    databaseName,
    collection: typeof target === 'string' ? target : null,
  };
  const filter = filterOf(name, command);
  if (filter !== undefined) line.filter = filter;
  if (name === 'insert') line.documents = asList(command['documents']).map(scalarFields);
  if (typeof command['comment'] === 'string') line.comment = command['comment'];
  if (command['autocommit'] === false) line.inTransaction = true;
  return line;
}

const serializable = (_key: string, value: unknown) =>
  typeof value === 'bigint' ? value.toString() : value;

/**
 * Appends every command the connection sends to `options.file`. The connection must have been
 * opened with `monitorCommands: true`.
 */
export function logMongoCommands(connection: Connection, options: MongoCommandLogOptions): void {
  connection.getClient().on('commandStarted', (event) => {
    const line = describeMongoCommand(
      options.service,
      event.commandName,
      event.databaseName,
      event.command as Command,
    );
    appendFileSync(options.file, `${JSON.stringify(line, serializable)}\n`);
  });
}
