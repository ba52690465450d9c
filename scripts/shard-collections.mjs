// Prints the mongosh commands that shard a Stepwise database as docs/scaling.md plans it, from the
// one table of shard keys (packages/shared/src/models/shard-keys.ts); build the shared package
// first (`npx tsc -b`). Usage: node scripts/shard-collections.mjs [database name, default stepwise]
import { shardCollectionCommands } from '@stepwise/shared/node';

const databaseName = process.argv[2] ?? 'stepwise';
if (!/^[A-Za-z0-9_-]+$/.test(databaseName)) {
  console.error(`not a database name: ${databaseName}`);
  process.exit(2);
}
console.log(shardCollectionCommands(databaseName).join('\n'));
