import { z } from 'zod';
import { formatIssuePath } from './errors.js';
import { queuePrefixSchema } from './queues.js';

/**
 * Configuration comes from the environment, is read once in each service's `main.ts`, and is
 * parsed here into a typed object. Libraries take that object; none reads `process.env`.
 * Each variable is declared once, with its default and meaning; the README's table is rendered
 * from these declarations (`npm run docs:config`) and a test keeps the two equal.
 */

const MiB = 1024 * 1024;

/**
 * High enough that a person mistyping a key, or a test suite making deliberate 401s from one
 * address, never meets it; low enough that guessing the admin token from one address is hopeless.
 * Exported because the gateway app falls back to them when embedded without configuration.
 */
export const authFailureDefaults = { limit: 30, windowMs: 60_000 } as const;

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);

const commaList = z
  .string()
  .default('')
  .transform((text) =>
    text
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item !== ''),
  );

const mongoUrl = z
  .string()
  .regex(/^mongodb(\+srv)?:\/\/.+/, 'must be a mongodb:// or mongodb+srv:// URL')
  .describe('MongoDB connection string, including the database name');

const redisUrl = z
  .string()
  .regex(
    /^rediss?:\/\/[^,]+(,\s*rediss?:\/\/[^,]+)*$/,
    'must be a redis:// or rediss:// URL (for a Redis Cluster, several separated by commas)',
  )
  .describe(
    'Redis connection URL; for a Redis Cluster, one or more seed nodes separated by commas',
  );

const redisCluster = z
  .enum(['true', 'false'], { message: 'must be true or false' })
  .default('false')
  .transform((value) => value === 'true')
  .describe(
    'Connect to a Redis Cluster (implied when REDIS_URL names several nodes); docs/scaling.md',
  );

const commonVariables = {
  MONGO_URL: mongoUrl,
  REDIS_URL: redisUrl,
  REDIS_CLUSTER: redisCluster,
  LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
    .default('info')
    .describe('pino log level'),
  QUEUE_PREFIX: queuePrefixSchema
    .default('{stepwise}')
    .describe(
      'Namespace of every Redis key; each queue and key family gets a hash tag inside it (docs/scaling.md)',
    ),
  SHUTDOWN_TIMEOUT_MS: positiveInt(10_000).describe(
    'How long SIGTERM waits for in-flight requests and jobs before exiting',
  ),
  HEARTBEAT_FILE: z
    .string()
    .min(1)
    .optional()
    .describe('If set, a file touched every 5 s while the service is healthy (container checks)'),
  MONGO_COMMAND_LOG: z
    .string()
    .min(1)
    .optional()
    .describe(
      'Tests only: if set, a file every MongoDB command is appended to as a JSON line (the shard-key check; docs/scaling.md)',
    ),
};

/** A master key: base64 of exactly 32 random bytes (`openssl rand -base64 32`). */
const masterKey = z
  .string()
  .refine(
    (text) => /^[A-Za-z0-9+/]{43}=$/.test(text) && Buffer.from(text, 'base64').length === 32,
    'must be base64 of exactly 32 bytes (openssl rand -base64 32)',
  );

/** Envelope encryption of users' secrets (docs/secrets.md): the gateway stores, the runner reads. */
const secretVariables = {
  SECRETS_MASTER_KEY: masterKey
    .optional()
    .describe(
      "Master key of users' secrets (base64 of 32 bytes); without it no secret can be stored or used (docs/secrets.md)",
    ),
  SECRETS_PREVIOUS_MASTER_KEY: masterKey
    .optional()
    .describe(
      'The master key being rotated away from: given with a new SECRETS_MASTER_KEY, the start re-wraps every data key (docs/secrets.md)',
    ),
};

const publicUrl = z
  .url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' })
  .transform((url) => url.replace(/\/+$/, ''))
  .optional()
  .describe(
    'The address people reach this server at (e.g. behind a load balancer); links that leave the server (invitations, webhooks) are built from it, and none are made without it',
  );

const outboundAllowedHosts = commaList.describe(
  'Comma-separated hosts api.* modules and webhooks may call (private addresses are refused otherwise)',
);

const retentionDays = z.coerce.number().int().min(1).max(36_500).optional();

/**
 * The deployment's retention policy (docs/deletion-and-retention.md): what applies to a user who
 * has set none. Unset days keep things for ever.
 */
const retentionDefaults = {
  RETENTION_DELETE_FINISHED_RUNS_AFTER_DAYS: retentionDays.describe(
    'Default retention: finished runs are deleted this many days after they finished (unset: kept)',
  ),
  RETENTION_EXPORT_BEFORE_DELETE: z
    .enum(['true', 'false'], { message: 'must be true or false' })
    .default('false')
    .transform((value) => value === 'true')
    .describe('Default retention: export each run to a file before deleting it'),
  RETENTION_DELETE_ARTIFACTS_AFTER_DAYS: retentionDays.describe(
    'Default retention: artifacts of finished runs are deleted this many days after the run finished (unset: kept)',
  ),
};

export const gatewayEnvSchema = z.object({
  ...commonVariables,
  ...retentionDefaults,
  ...secretVariables,
  HOST: z.string().min(1).default('0.0.0.0').describe('Address the HTTP server binds'),
  PORT: z.coerce.number().int().min(0).max(65535).default(8080).describe('HTTP port'),
  ADMIN_TOKEN: z
    .string()
    .min(16, 'must be at least 16 characters')
    .describe('Bearer token for /v1/admin routes and the queue dashboard'),
  MAX_JSON_BODY_BYTES: positiveInt(MiB).describe('Largest JSON request body accepted'),
  MAX_UPLOAD_BYTES: positiveInt(20 * MiB).describe('Largest workflow upload (zip or JSON)'),
  MAX_RUN_IMPORT_BYTES: positiveInt(512 * MiB).describe(
    'Largest run archive POST /v1/runs/import accepts (held in memory while it is checked)',
  ),
  MAX_FILE_UPLOAD_BYTES: positiveInt(1024 * MiB).describe(
    "Largest file a person may upload to a user.file_input question (each question's max_bytes may be lower)",
  ),
  RATE_LIMIT_PER_WINDOW: z.coerce
    .number()
    .int()
    .min(0)
    .default(1_200)
    .describe('Requests one user may make per rate-limit window (0: no limit)'),
  RATE_LIMIT_WINDOW_MS: positiveInt(60_000).describe('Length of the per-user rate-limit window'),
  AUTH_FAILURES_PER_WINDOW: z.coerce
    .number()
    .int()
    .min(0)
    .default(authFailureDefaults.limit)
    .describe(
      'Failed authentications per client address, or key prefix, and window; then 429 (0: no limit)',
    ),
  AUTH_FAILURE_WINDOW_MS: positiveInt(authFailureDefaults.windowMs).describe(
    'Length of the failed-authentication window',
  ),
  // Validated as addresses so that a typo fails at start instead of silently exempting nothing.
  AUTH_FAILURES_EXEMPT_ADDRESSES: commaList
    .pipe(z.array(z.union([z.ipv4(), z.ipv6()])))
    .describe(
      'Client addresses (comma-separated; IPv6: the /64) whose failed authentications are not counted; test clients only',
    ),
  PUBLIC_URL: publicUrl,
  OUTBOUND_ALLOWED_HOSTS: outboundAllowedHosts,
  WEB_APP_DIR: z
    .string()
    .min(1)
    .optional()
    .describe(
      'Folder of the built web app served at /app (default: apps/web/dist of this checkout)',
    ),
  INVITATION_TTL_MS: positiveInt(72 * 3_600_000).describe('How long an invitation link works'),
  SESSION_IDLE_MS: positiveInt(12 * 3_600_000).describe(
    'A signed-in session ends after this long without a request',
  ),
  SESSION_MAX_MS: positiveInt(14 * 24 * 3_600_000).describe(
    'A signed-in session ends this long after sign-in, however active',
  ),
  SSE_HEARTBEAT_MS: positiveInt(15_000).describe(
    'Quiet time after which an event stream sends a heartbeat comment (and re-reads the log)',
  ),
  HTTP_HEADERS_TIMEOUT_MS: positiveInt(20_000).describe(
    "Longest a client may take to send a request's headers before it gets 408 and is disconnected",
  ),
  HTTP_REQUEST_TIMEOUT_MS: positiveInt(120_000).describe(
    'Longest a client may take to send a whole request (headers and body) before it gets 408',
  ),
  HTTP_KEEP_ALIVE_TIMEOUT_MS: positiveInt(65_000).describe(
    'How long an idle keep-alive connection stays open (above common load balancers’ 60 s)',
  ),
});

const pluginList = commaList.describe(
  'Comma-separated module plugins (package names or paths) for the resolver and runner',
);

export const resolverEnvSchema = z.object({
  ...commonVariables,
  RUNNER_PLUGINS: pluginList,
  RESOLVER_CONCURRENCY: positiveInt(4).describe('Resolve jobs one resolver process runs at once'),
  MAX_ZIP_ENTRIES: positiveInt(1_000).describe('Most entries a workflow zip may hold'),
  MAX_UNCOMPRESSED_BYTES: positiveInt(100 * MiB).describe('Most bytes a zip may unpack to'),
  MAX_COMPRESSION_RATIO: positiveInt(100).describe(
    'Highest uncompressed/compressed ratio of a zip entry before it counts as a zip bomb',
  ),
  MAX_INLINE_RESOLVED_BYTES: positiveInt(4 * MiB).describe(
    'Resolved workflows larger than this are stored in GridFS instead of inline',
  ),
});

export const runnerEnvSchema = z.object({
  ...commonVariables,
  ...retentionDefaults,
  RETENTION_INTERVAL_MS: positiveInt(3_600_000).describe(
    'How often the scheduled job applies the retention policies',
  ),
  RETENTION_EXPORT_DIR: z
    .string()
    .min(1)
    .optional()
    .describe(
      'Directory the retention job exports runs to before deleting them (unset: such runs are kept and reported)',
    ),
  DELETION_BATCH_SIZE: positiveInt(50).describe(
    'Runs a deletion deletes together (each under its lease) before it records its progress',
  ),
  ...secretVariables,
  RUNNER_CONCURRENCY: positiveInt(8).describe('Run commands one runner process applies at once'),
  MIGRATION_BATCH_SIZE: positiveInt(16).describe(
    'Runs a batch migration moves at once (their commands wait in the user’s fair share like any other)',
  ),
  RUNNER_PLUGINS: pluginList,
  RUNNER_LOCK_MS: positiveInt(30_000).describe(
    "How long a runner's hold on a job lasts without renewal; a killed runner's jobs return after it",
  ),
  RUNNER_SWEEP_INTERVAL_MS: positiveInt(30_000).describe(
    'How often a runner looks for commands and runs that no job is carrying',
  ),
  RUNNER_STALE_AFTER_MS: positiveInt(60_000).describe(
    'Age after which a pending command or a running run without a job is picked up by the sweep',
  ),
  RUN_LEASE_MS: positiveInt(30_000).describe(
    "How long a runner's lease on a run lasts without renewal; a killed runner's runs are recovered after it",
  ),
  ARTIFACT_ORPHAN_GRACE_MS: positiveInt(3_600_000).describe(
    'Age after which an artifact no committed event refers to (its attempt never committed) is deleted',
  ),
  MODULE_TIMEOUT_MS: positiveInt(120_000).describe(
    'Longest a non-interactive module may run before it counts as failed',
  ),
  OUTBOUND_ALLOWED_HOSTS: outboundAllowedHosts,
  PUBLIC_URL: publicUrl,
  RUNNER_FAILPOINT: z
    .string()
    .regex(/^exit_after_commit:[a-z_]+$/, 'must be exit_after_commit:<event type>')
    .optional()
    .describe(
      'Fault injection for tests only: exit_after_commit:<event type> kills the process right after it commits an event of that type, before the event reaches the log',
    ),
  WEBHOOK_CONCURRENCY: positiveInt(16).describe(
    'Webhook deliveries one runner process sends at once',
  ),
  WEBHOOK_TIMEOUT_MS: positiveInt(10_000).describe(
    'Longest a webhook receiver may take to answer before the attempt counts as failed',
  ),
  WEBHOOK_RETRY_BASE_MS: positiveInt(5_000).describe(
    'Wait before the second attempt of a webhook delivery; it doubles with each attempt after',
  ),
  WEBHOOK_RETRY_MAX_MS: positiveInt(4 * 3_600_000).describe(
    'Longest wait between two attempts of a webhook delivery',
  ),
  WEBHOOK_GIVE_UP_AFTER_MS: positiveInt(24 * 3_600_000).describe(
    'Age after which a webhook delivery that never succeeded is given up',
  ),
  WEBHOOK_DISABLE_AFTER_MS: positiveInt(3 * 24 * 3_600_000).describe(
    'A subscription whose deliveries have failed this long without a success is disabled',
  ),
  LLM_BASE_URL: z
    .url()
    .optional()
    .describe('OpenAI-compatible API base URL for api.llm (e.g. https://api.openai.com/v1)'),
  LLM_API_KEY: z
    .string()
    .min(1)
    .optional()
    .describe(
      "The deployment's default key for LLM_BASE_URL, used for calls that name no credentials when LLM_DEFAULT_KEY_POLICY allows",
    ),
  LLM_DEFAULT_KEY_POLICY: z
    .enum(['allow', 'deny'])
    .default('allow')
    .describe(
      "allow: api.llm calls without credentials use LLM_API_KEY; deny: every call must name the user's own key (docs/secrets.md)",
    ),
  ANTHROPIC_BASE_URL: z
    .url()
    .default('https://api.anthropic.com')
    .describe("Base URL of Anthropic's Messages API for api.llm with provider anthropic"),
  LLM_PRICES: z
    .string()
    .default('{}')
    .transform((text, context) => {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        context.addIssue({ code: 'custom', message: 'must be JSON' });
        return z.NEVER;
      }
    })
    .pipe(
      z.record(
        z.string(),
        z.strictObject({
          input_per_1k_tokens: z.number().nonnegative(),
          output_per_1k_tokens: z.number().nonnegative(),
        }),
      ),
    )
    .describe(
      'JSON price table for api.llm usage: {"<model>": {"input_per_1k_tokens": 0.0005, "output_per_1k_tokens": 0.0015}}',
    ),
  LLM_TIMEOUT_MS: positiveInt(60_000).describe('Longest an api.llm call may take'),
  FETCH_TIMEOUT_MS: positiveInt(30_000).describe('Default timeout of an api.fetch call'),
  MAX_FETCH_BYTES: positiveInt(5 * MiB).describe('Largest response body api.fetch accepts'),
  MAX_ARTIFACT_BYTES: positiveInt(100 * MiB).describe('Largest artifact artifact.save stores'),
  KEYWORD_CLEANUP_INTERVAL_MS: positiveInt(3_600_000).describe(
    'How often the scheduled job deletes expired keyword history',
  ),
});

export const serviceEnvSchemas = {
  gateway: gatewayEnvSchema,
  resolver: resolverEnvSchema,
  runner: runnerEnvSchema,
} as const;

export type ServiceName = keyof typeof serviceEnvSchemas;
export type GatewayEnv = z.infer<typeof gatewayEnvSchema>;
export type ResolverEnv = z.infer<typeof resolverEnvSchema>;
export type RunnerEnv = z.infer<typeof runnerEnvSchema>;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: readonly { variable: string; message: string }[]) {
    super(
      `Invalid configuration:\n${problems.map((p) => `  ${p.variable}: ${p.message}`).join('\n')}`,
    );
  }
}

type EnvSource = Readonly<Record<string, string | undefined>>;

/** Parses the variables `schema` declares out of `env`; throws a ConfigError naming each bad one. */
export function parseEnv<Schema extends z.ZodObject>(
  schema: Schema,
  env: EnvSource,
): z.infer<Schema> {
  const relevant: Record<string, string> = {};
  for (const name of Object.keys(schema.shape)) {
    const value = env[name];
    // An empty variable (`FOO=`) means "not set", as compose files and shells tend to produce.
    if (value !== undefined && value !== '') relevant[name] = value;
  }
  const result = schema.safeParse(relevant);
  if (result.success) return result.data;
  throw new ConfigError(
    result.error.issues.map((issue) => {
      const variable = formatIssuePath(issue.path);
      return {
        variable,
        message: relevant[variable] === undefined ? 'is required but not set' : issue.message,
      };
    }),
  );
}

/** One row per variable across the services: what the README's configuration table shows. */
export interface ConfigVariableDoc {
  name: string;
  services: ServiceName[];
  required: boolean;
  default: string;
  description: string;
}

export function describeConfigVariables(): ConfigVariableDoc[] {
  const rows = new Map<string, ConfigVariableDoc>();
  for (const [service, schema] of Object.entries(serviceEnvSchemas) as [
    ServiceName,
    z.ZodObject,
  ][]) {
    const jsonSchema = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as {
      properties?: Record<string, { default?: unknown; description?: string }>;
      required?: string[];
    };
    for (const [name, property] of Object.entries(jsonSchema.properties ?? {})) {
      const existing = rows.get(name);
      if (existing) {
        existing.services.push(service);
        continue;
      }
      const fallback = property.default;
      rows.set(name, {
        name,
        services: [service],
        required: jsonSchema.required?.includes(name) === true && fallback === undefined,
        default: fallback === undefined || fallback === '' ? '' : String(fallback),
        description: property.description ?? '',
      });
    }
  }
  return [...rows.values()];
}

export function renderConfigTable(): string {
  const lines = [
    '| variable | services | required | default | meaning |',
    '| --- | --- | --- | --- | --- |',
  ];
  for (const row of describeConfigVariables()) {
    const fallback = row.default === '' ? '' : `\`${row.default}\``;
    lines.push(
      `| \`${row.name}\` | ${row.services.join(', ')} | ${row.required ? 'yes' : 'no'} | ${fallback} | ${row.description} |`,
    );
  }
  return lines.join('\n');
}
