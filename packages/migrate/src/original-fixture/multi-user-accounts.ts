import type { BulkWriter } from './bulk-writer.js';
import type { SeededRandom } from './random.js';
import { sha256Hex, uuid4Hyphenated } from './random.js';

/**
 * Multi-user accounts: schema_migrations, users, access keys, refresh tokens and invitation codes
 * (research §2.13, §2.15, §8).
 */

const dayMs = 86_400_000;

export interface FixtureUser {
  user_id: string;
  username: string;
  access_keys: string[];
  /** Active users start runs; the deactivated one only has old runs. */
  is_active: boolean;
}

const migrationDescriptions = [
  'Create schema_migrations',
  'Baseline schema',
  'Backup and drop workflows',
  'Drop legacy indexes',
  'Rename current_version_id',
  'Rename initial version fields',
  'Workflow resolutions',
  'Version types and drop resolutions',
  'Resolved versions and run version history',
  'Weighted keywords (drop keyword_history)',
  'Content generation collections',
  'Relative media paths',
  'Invitation codes',
];

export async function writeAccounts(
  writer: BulkWriter,
  random: SeededRandom,
  startMs: number,
): Promise<FixtureUser[]> {
  for (const [id, description] of migrationDescriptions.entries()) {
    const at = new Date(startMs - (200 - id * 10) * dayMs);
    await writer.add('schema_migrations', { migration_id: id, description, applied_at: at }, at);
  }
  const people = [
    { username: 'admin', role: 'admin', password: true, active: true },
    { username: 'alice', role: 'user', password: true, active: true },
    // Created by get_or_create_user before passwords existed: basic fields only (§8.1).
    { username: 'bob', role: null, password: false, active: true },
    { username: 'carol', role: 'user', password: true, active: false },
  ];
  const users: FixtureUser[] = [];
  for (const [i, person] of people.entries()) {
    const createdAt = new Date(startMs - (150 - i * 5) * dayMs);
    const user: Record<string, unknown> = {
      user_id: `usr_${random.hex(12)}`,
      username: person.username,
      email: i === 2 ? null : `${person.username}@example.com`,
      created_at: createdAt,
      updated_at: createdAt,
    };
    if (i === 2) delete user['email'];
    if (person.password) {
      // bcrypt, 12 rounds, as a string (§8.1); any bcrypt-looking value will do for a fixture.
      user['password_hash'] =
        `$2b$12$${random.base64url(22).replace(/[-_]/g, '.')}${random.base64url(31).replace(/[-_]/g, '/')}`;
      user['is_active'] = person.active;
      user['auth_providers'] = [];
    }
    if (person.role) user['role'] = person.role;
    await writer.add('users', user, createdAt);
    const fixtureUser: FixtureUser = {
      user_id: String(user['user_id']),
      username: person.username,
      access_keys: [],
      is_active: person.active,
    };
    const keyCount = random.int(1, 3);
    for (let k = 0; k < keyCount; k++) {
      const keyCreated = new Date(createdAt.getTime() + (k + 1) * dayMs);
      // Plaintext wfk_ + token_urlsafe(32) = 43 base64url characters (§8.2).
      const accessKey = `wfk_${random.base64url(43)}`;
      const revoked = k > 0 && random.chance(0.5);
      const doc: Record<string, unknown> = {
        access_key_id: `key_${random.hex(12)}`,
        user_id: fixtureUser.user_id,
        access_key: accessKey,
        name: k === 0 ? 'default' : `cli-${k}`,
        is_active: !revoked,
        created_at: keyCreated,
        last_used_at: random.chance(0.7) ? new Date(keyCreated.getTime() + 3 * dayMs) : null,
      };
      if (random.chance(0.3)) doc['expires_at'] = new Date(keyCreated.getTime() + 365 * dayMs);
      if (revoked) doc['revoked_at'] = new Date(keyCreated.getTime() + 10 * dayMs);
      await writer.add('access_keys', doc, keyCreated);
      fixtureUser.access_keys.push(accessKey);
    }
    if (person.password) {
      const first = uuid4Hyphenated(random);
      const second = uuid4Hyphenated(random);
      const issued = new Date(startMs - 3 * dayMs);
      const common = {
        user_id: fixtureUser.user_id,
        user_agent: 'Mozilla/5.0 (X11; Linux x86_64)',
        ip_address: `203.0.113.${i + 10}`,
      };
      // A rotated token and its successor (§8.3).
      await writer.add(
        'refresh_tokens',
        {
          token_id: first,
          ...common,
          token_hash: sha256Hex(`jwt.${first}`),
          expires_at: new Date(issued.getTime() + 14 * dayMs),
          created_at: issued,
          last_used_at: issued,
          revoked_at: null,
          rotated_at: new Date(issued.getTime() + 3_600_000),
          successor_token_id: second,
        },
        issued,
      );
      const next = new Date(issued.getTime() + 3_600_000);
      await writer.add(
        'refresh_tokens',
        {
          token_id: second,
          ...common,
          token_hash: sha256Hex(`jwt.${second}`),
          expires_at: new Date(next.getTime() + 14 * dayMs),
          created_at: next,
          last_used_at: next,
          revoked_at: i === 3 ? next : null,
        },
        next,
      );
    }
    users.push(fixtureUser);
  }
  const codeAt = new Date(startMs - 160 * dayMs);
  const withPassword = users.filter((_, i) => people[i]?.password);
  await writer.add(
    'invitation_codes',
    {
      code: `INV-${random.hex(8).toUpperCase()}`,
      is_active: true,
      expires_at: new Date(startMs + 30 * dayMs),
      max_uses: 10,
      used_count: withPassword.length,
      updated_at: codeAt,
      usage_history: withPassword.map((u, i) => ({
        user_id: u.user_id,
        used_at: new Date(codeAt.getTime() + (i + 1) * dayMs),
        ip_address: `198.51.100.${i + 1}`,
      })),
    },
    codeAt,
  );
  await writer.add(
    'invitation_codes',
    {
      code: `INV-${random.hex(8).toUpperCase()}`,
      is_active: false,
      expires_at: new Date(startMs - 100 * dayMs),
      max_uses: 1,
      used_count: 0,
      updated_at: codeAt,
      usage_history: [],
    },
    codeAt,
  );
  return users;
}
