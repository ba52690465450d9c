import { afterAll, describe, expect, it } from 'vitest';
import {
  MasterKeyMismatchError,
  SecretStore,
  SecretUnreadableError,
  masterKeyFingerprint,
  openSecretKeyring,
} from '@stepwise/shared/node';
import { useTestDatabases, type TestDatabases } from './support/databases.js';
import { TEST_ADMIN_TOKEN } from './support/gateway.js';
import { startProcessStack } from './support/process-stack.js';
import { startServiceProcess } from './support/processes.js';
import { RunsClient } from './support/runs.js';
import { OTHER_SECRETS_MASTER_KEY, TEST_SECRETS_MASTER_KEY } from './support/secrets.js';
import { startFakeProvider } from './support/fake-provider.mjs';

/**
 * The master key (docs/secrets.md): rotation keeps every secret readable (also when killed
 * halfway, also with two processes rotating at once), ciphertexts are bound to their user and
 * name, a wrong key stops a real process at start with a message naming fingerprints only, and
 * a real stack at LOG_LEVEL=debug writes no secret value to any log line.
 */

const keyA = TEST_SECRETS_MASTER_KEY;
const keyB = OTHER_SECRETS_MASTER_KEY;
const keyC = Buffer.alloc(32, 11).toString('base64');
const idOf = (key: string) => masterKeyFingerprint(Buffer.from(key, 'base64'));

/** Every 16-character window of a secret: part of one written is a leak too. */
function fragments(secret: string, length = 16): string[] {
  if (secret.length <= length) return [secret];
  return Array.from({ length: secret.length - length + 1 }, (_, i) => secret.slice(i, i + length));
}

const users = Array.from({ length: 6 }, (_, i) => `usr_rotation_${i}`);
const valueOf = (user: string, name: string) => `value-of-${name}-for-${user}-${'x'.repeat(8)}`;

async function storeUnder(models: TestDatabases['models'], current: string, previous?: string) {
  const { keyring, report } = await openSecretKeyring(models, { current, previous });
  return { store: new SecretStore(models, keyring), report };
}

async function seed(db: TestDatabases) {
  const { store } = await storeUnder(db.models, keyA);
  for (const user of users)
    for (const name of ['OPENAI_KEY', 'ANTHROPIC_KEY'])
      await store.put(user, name, valueOf(user, name));
}

async function expectAllReadable(store: SecretStore) {
  for (const user of users) {
    const values = await store.read(user, ['OPENAI_KEY', 'ANTHROPIC_KEY']);
    expect(values.get('OPENAI_KEY')).toBe(valueOf(user, 'OPENAI_KEY'));
    expect(values.get('ANTHROPIC_KEY')).toBe(valueOf(user, 'ANTHROPIC_KEY'));
  }
}

describe('master-key rotation', () => {
  it('re-wraps every data key, leaves every value as it was, and keeps all readable', async () => {
    const db = await useTestDatabases('secrets_rotation');
    await seed(db);
    const sealedBefore = await db.models.userSecrets.find().sort({ user_id: 1, name: 1 }).lean();

    const { store, report } = await storeUnder(db.models, keyB, keyA);
    expect(report).toMatchObject({ rotatedFrom: idOf(keyA), masterKeyId: idOf(keyB) });
    expect(report.rewrapped).toBe(users.length);
    await expectAllReadable(store);
    const dataKeys = await db.models.userDataKeys.find().lean();
    expect(new Set(dataKeys.map((key) => key.master_key_id))).toEqual(new Set([idOf(keyB)]));
    expect(await db.models.userSecrets.find().sort({ user_id: 1, name: 1 }).lean()).toEqual(
      sealedBefore,
    );
    // From now on the new key alone opens the database, and the old one alone does not.
    await expectAllReadable((await storeUnder(db.models, keyB)).store);
    await expect(openSecretKeyring(db.models, { current: keyA })).rejects.toThrow(
      MasterKeyMismatchError,
    );
  });

  it('resumes a rotation killed halfway', async () => {
    const db = await useTestDatabases('secrets_rotation_halfway');
    await seed(db);
    let rewrapped = 0;
    await expect(
      openSecretKeyring(
        db.models,
        { current: keyB, previous: keyA },
        {
          afterRewrap: () => {
            rewrapped += 1;
            if (rewrapped === 2) throw new Error('killed');
          },
        },
      ),
    ).rejects.toThrow('killed');
    const halfway = await db.models.userDataKeys.find().lean();
    expect(halfway.filter((key) => key.master_key_id === idOf(keyB))).toHaveLength(2);
    expect((await db.models.secretKeyring.findOne().lean())?.master_key_id).toBe(idOf(keyA));

    const { store, report } = await storeUnder(db.models, keyB, keyA);
    expect(report.rotatedFrom).toBe(idOf(keyA));
    expect(report.rewrapped).toBe(users.length - 2);
    await expectAllReadable(store);
  });

  it('lets two processes rotate at once without losing a key', async () => {
    const db = await useTestDatabases('secrets_rotation_concurrent');
    await seed(db);
    const results = await Promise.all([
      storeUnder(db.models, keyB, keyA),
      storeUnder(db.models, keyB, keyA),
      storeUnder(db.models, keyB, keyA),
    ]);
    expect(results.reduce((sum, { report }) => sum + report.rewrapped, 0)).toBe(users.length);
    for (const { store } of results) await expectAllReadable(store);
    await expectAllReadable((await storeUnder(db.models, keyB)).store);
  });

  it('refuses a wrong key, naming fingerprints and never the keys', async () => {
    const db = await useTestDatabases('secrets_wrong_key');
    await seed(db);
    const error = await openSecretKeyring(db.models, { current: keyC, previous: keyB }).catch(
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(MasterKeyMismatchError);
    const message = (error as Error).message;
    expect(message).toContain(idOf(keyC));
    expect(message).toContain(idOf(keyA));
    expect(message).toContain(idOf(keyB));
    for (const key of [keyA, keyB, keyC]) expect(message).not.toContain(key);
  });

  it('binds each ciphertext to its user and name: moved, it does not open', async () => {
    const db = await useTestDatabases('secrets_binding');
    await seed(db);
    const { store } = await storeUnder(db.models, keyA);
    const [first, second] = users;
    const sealed = await db.models.userSecrets
      .findOne({ user_id: first, name: 'OPENAI_KEY' })
      .lean();
    // Another name of the same user.
    await db.models.userSecrets.updateOne(
      { user_id: first, name: 'ANTHROPIC_KEY' },
      { $set: { ciphertext: sealed?.ciphertext, iv: sealed?.iv, auth_tag: sealed?.auth_tag } },
    );
    await expect(store.read(first ?? '', ['ANTHROPIC_KEY'])).rejects.toThrow(SecretUnreadableError);
    // Another user (whose own data key differs anyway; the AAD would refuse it regardless).
    await db.models.userSecrets.updateOne(
      { user_id: second, name: 'OPENAI_KEY' },
      { $set: { ciphertext: sealed?.ciphertext, iv: sealed?.iv, auth_tag: sealed?.auth_tag } },
    );
    await expect(store.read(second ?? '', ['OPENAI_KEY'])).rejects.toThrow(SecretUnreadableError);
  });
});

describe('service processes and the master key', () => {
  it('a gateway and a runner with the wrong key exit non-zero at start, saying why', async () => {
    const db = await useTestDatabases('secrets_wrong_key_process');
    await seed(db);
    const env = {
      MONGO_URL: db.mongoUrl,
      REDIS_URL: db.redisUrl,
      QUEUE_PREFIX: db.queuePrefix,
      LOG_LEVEL: 'info',
      SECRETS_MASTER_KEY: keyC,
    };
    const gateway = startServiceProcess('gateway', {
      ...env,
      ADMIN_TOKEN: TEST_ADMIN_TOKEN,
      HOST: '127.0.0.1',
      PORT: '0',
    });
    const runner = startServiceProcess('runner', env);
    for (const [name, service] of [
      ['gateway', gateway],
      ['runner', runner],
    ] as const) {
      expect(await service.exited).toBe(1);
      const output = service.lines.join('\n');
      expect(output).toContain(`${name}: SECRETS_MASTER_KEY (fingerprint ${idOf(keyC)})`);
      expect(output).toContain(idOf(keyA));
      expect(output).not.toContain(keyC);
      expect(output).not.toContain('listening');
      expect(output).not.toContain(`${name} ready`);
    }
  });

  it('a stack at LOG_LEVEL=debug writes no secret value to any log line', async () => {
    const db = await useTestDatabases('secrets_log_scan');
    const provider = await startFakeProvider();
    afterAll(() => provider.close());
    const secretValue = 'sk-logscan-7c1e4a9b3d2f-never-logged';
    const stack = await startProcessStack(db, {
      common: { LOG_LEVEL: 'debug' },
      runner: { LLM_BASE_URL: provider.baseUrl, LLM_API_KEY: 'deployment-key-logscan-xyz' },
    });
    afterAll(() => stack.stop(5_000));
    const created = await stack.gateway.request('/v1/admin/users', {
      method: 'POST',
      token: TEST_ADMIN_TOKEN,
      json: { username: 'logscan', email: 'logscan@example.com' },
    });
    const { api_key: apiKey } = (await created.json()) as { api_key: string };
    const client = new RunsClient(stack.gateway, apiKey);
    const stored = await client.request('/v1/me/secrets/OPENAI_KEY', {
      method: 'PUT',
      json: { value: secretValue },
    });
    expect(stored.status).toBe(201);
    // A refused write carrying the value too (a name that is not a secret's).
    expect(
      (
        await client.request('/v1/me/secrets/bad-name', {
          method: 'PUT',
          json: { value: secretValue },
        })
      ).status,
    ).toBe(400);
    // A call that succeeds, and one whose provider echoes the key back in an error.
    provider.respond = (call) =>
      call.marker === 'logscan-echo'
        ? { status: 401, body: { error: { message: `bad key ${call.credential ?? ''}` } } }
        : undefined;
    const workflow = {
      workflow_id: 'logscan',
      steps: [
        {
          step_id: 'write',
          modules: [
            {
              module_id: 'api.llm',
              name: 'draft',
              inputs: { model: 'gpt-4o-mini', prompt: '[marker:{{ run.project_name }}] Hi.' },
              credentials: { api_key: 'OPENAI_KEY' },
            },
          ],
        },
      ],
    };
    const versionId = await client.submitJson(workflow);
    for (const project of ['logscan-ok', 'logscan-echo']) {
      const { run } = await client.start(
        { workflow_version_id: versionId, project_name: project },
        '?wait_ms=20000',
      );
      expect(run.status).toBe(project === 'logscan-ok' ? 'completed' : 'error');
      expect(JSON.stringify(await client.events(run.workflow_run_id))).not.toContain(secretValue);
    }
    expect(provider.callsOf('chat', 'logscan-ok').map((call) => call.credential)).toEqual([
      secretValue,
    ]);
    await stack.stop(10_000);
    const lines = Object.values(stack.processes).flatMap((service) => service.lines);
    // The log saw the secret's requests and the runs: the scan looks at a log that was there.
    expect(lines.some((line) => line.includes('/v1/me/secrets/OPENAI_KEY'))).toBe(true);
    expect(lines.some((line) => line.includes('runner ready'))).toBe(true);
    const output = lines.join('\n');
    const leaks = [secretValue, TEST_SECRETS_MASTER_KEY].flatMap((secret) =>
      fragments(secret).filter((fragment) => output.includes(fragment)),
    );
    expect(leaks).toEqual([]);
  });
});
