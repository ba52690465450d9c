import { Schema, type Connection } from 'mongoose';

/**
 * Envelope encryption at rest (docs/secrets.md): each secret's value is sealed with AES-256-GCM
 * under its owner's data key; each data key is sealed under the deployment's master key
 * (SECRETS_MASTER_KEY), which never reaches the database, only its fingerprint does.
 * Sealed fields are base64 text.
 */

export interface UserSecretRecord {
  user_id: string;
  /** `^[A-Z][A-Z0-9_]{0,63}$`; unique per user. */
  name: string;
  ciphertext: string;
  iv: string;
  auth_tag: string;
  created_at: Date;
  updated_at: Date;
}

export interface UserDataKeyRecord {
  user_id: string;
  /** The user's 32-byte data key, sealed under the master key `master_key_id` names. */
  wrapped_key: string;
  iv: string;
  auth_tag: string;
  /** The fingerprint of the master key this data key is wrapped under (never the key). */
  master_key_id: string;
  created_at: Date;
  /** When it was last re-wrapped (a rotation); its created_at before any. */
  rewrapped_at: Date;
}

/**
 * The one document proving which master key the database is under: a known text sealed under
 * it. A process whose SECRETS_MASTER_KEY cannot open it refuses to start (or rotates to it, given
 * the previous key).
 */
export interface SecretKeyringRecord {
  /** Always `master`: the singleton's unique key. */
  keyring: 'master';
  master_key_id: string;
  check_ciphertext: string;
  check_iv: string;
  check_auth_tag: string;
  /** The master key it was moved from by the last rotation, or null. */
  previous_master_key_id: string | null;
  created_at: Date;
  updated_at: Date;
}

export interface UserLlmPriceRecord {
  user_id: string;
  /** An array, not a map: model names carry dots (`claude-3.5-…`), which MongoDB keys may not. */
  prices: { model: string; input_per_1k_tokens: number; output_per_1k_tokens: number }[];
  updated_at: Date;
}

const sealedFields = {
  iv: { type: String, required: true },
  auth_tag: { type: String, required: true },
} as const;

const userSecretSchema = new Schema<UserSecretRecord>(
  {
    user_id: { type: String, required: true },
    name: { type: String, required: true },
    ciphertext: { type: String, required: true },
    ...sealedFields,
    created_at: { type: Date, required: true },
    updated_at: { type: Date, required: true },
  },
  { collection: 'user_secrets', versionKey: false },
);
userSecretSchema.index({ user_id: 1, name: 1 }, { unique: true });

const userDataKeySchema = new Schema<UserDataKeyRecord>(
  {
    user_id: { type: String, required: true },
    wrapped_key: { type: String, required: true },
    ...sealedFields,
    master_key_id: { type: String, required: true },
    created_at: { type: Date, required: true },
    rewrapped_at: { type: Date, required: true },
  },
  { collection: 'user_data_keys', versionKey: false },
);
userDataKeySchema.index({ user_id: 1 }, { unique: true });
// A rotation finds the keys still under the previous master key.
userDataKeySchema.index({ master_key_id: 1 });

const secretKeyringSchema = new Schema<SecretKeyringRecord>(
  {
    keyring: { type: String, required: true },
    master_key_id: { type: String, required: true },
    check_ciphertext: { type: String, required: true },
    check_iv: { type: String, required: true },
    check_auth_tag: { type: String, required: true },
    previous_master_key_id: { type: String, default: null },
    created_at: { type: Date, required: true },
    updated_at: { type: Date, required: true },
  },
  { collection: 'secret_keyring', versionKey: false },
);
secretKeyringSchema.index({ keyring: 1 }, { unique: true });

const userLlmPriceSchema = new Schema<UserLlmPriceRecord>(
  {
    user_id: { type: String, required: true },
    prices: {
      type: [
        {
          _id: false,
          model: { type: String, required: true },
          input_per_1k_tokens: { type: Number, required: true },
          output_per_1k_tokens: { type: Number, required: true },
        },
      ],
      default: [],
    },
    updated_at: { type: Date, required: true },
  },
  { collection: 'user_llm_prices', versionKey: false },
);
userLlmPriceSchema.index({ user_id: 1 }, { unique: true });

export function createSecretModels(connection: Connection) {
  return {
    userSecrets: connection.model<UserSecretRecord>('UserSecret', userSecretSchema),
    userDataKeys: connection.model<UserDataKeyRecord>('UserDataKey', userDataKeySchema),
    secretKeyring: connection.model<SecretKeyringRecord>('SecretKeyring', secretKeyringSchema),
    userLlmPrices: connection.model<UserLlmPriceRecord>('UserLlmPrice', userLlmPriceSchema),
  };
}
