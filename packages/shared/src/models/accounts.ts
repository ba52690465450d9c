import { Schema, type Connection } from 'mongoose';
import type { AccessKeyRecord, UserRecord } from '../records.js';

const userSchema = new Schema<UserRecord>(
  {
    user_id: { type: String, required: true },
    username: { type: String, required: true },
    email: { type: String, required: true },
    created_at: { type: Date, required: true },
    updated_at: { type: Date, required: true },
  },
  { collection: 'users', versionKey: false },
);
userSchema.index({ user_id: 1 }, { unique: true });
userSchema.index({ username: 1 }, { unique: true });
userSchema.index({ email: 1 }, { unique: true });

const accessKeySchema = new Schema<AccessKeyRecord>(
  {
    key_id: { type: String, required: true },
    user_id: { type: String, required: true },
    key_hash: { type: String, required: true },
    prefix: { type: String, required: true },
    created_at: { type: Date, required: true },
    last_used_at: { type: Date, default: null },
    revoked_at: { type: Date, default: null },
  },
  { collection: 'access_keys', versionKey: false },
);
accessKeySchema.index({ key_hash: 1 }, { unique: true });
accessKeySchema.index({ key_id: 1 }, { unique: true });
accessKeySchema.index({ user_id: 1 });

export function createAccountModels(connection: Connection) {
  return {
    users: connection.model<UserRecord>('User', userSchema),
    accessKeys: connection.model<AccessKeyRecord>('AccessKey', accessKeySchema),
  };
}
