import { useTestDatabases, type TestDatabases } from './databases.js';
import {
  createTestUser,
  startTestGateway,
  startTestResolver,
  type TestGateway,
} from './gateway.js';
import { startTestRunner } from './runner.js';
import { RunsClient } from './runs.js';

/**
 * The whole system in this process for one test file: its own databases (named `name`), a
 * gateway, a resolver and a runner, as most API tests need them; plus a way to make users.
 */
export interface TestStack {
  db: TestDatabases;
  gateway: TestGateway;
  /** A new user, as a client of the runs API with the user's key. */
  newClient(username: string): Promise<RunsClient>;
}

export async function startTestStack(name: string): Promise<TestStack> {
  const db = await useTestDatabases(name);
  const gateway = await startTestGateway(db);
  await startTestResolver(db);
  await startTestRunner(db);
  return {
    db,
    gateway,
    newClient: async (username) =>
      new RunsClient(gateway, (await createTestUser(gateway, username)).api_key),
  };
}
