import { Schema, type Connection } from 'mongoose';
import { z } from 'zod';

/**
 * What lets a person (not a program) sign in: a password set through an invitation. Kept apart
 * from the user document so that no read of a user can ever carry a password hash out.
 */
export const passwordRecordSchema = z.object({
  user_id: z.string(),
  /** argon2id, in its PHC string form (algorithm, parameters and salt included). */
  hash: z.string(),
  changed_at: z.date(),
});
export type PasswordRecord = z.infer<typeof passwordRecordSchema>;

/** A one-time link that lets a person set their password. Only the token's hash is stored. */
export const invitationRecordSchema = z.object({
  invitation_id: z.string(),
  user_id: z.string(),
  token_hash: z.string(),
  created_at: z.date(),
  expires_at: z.date(),
  used_at: z.date().nullable(),
});
export type InvitationRecord = z.infer<typeof invitationRecordSchema>;

const passwordSchema = new Schema<PasswordRecord>(
  {
    user_id: { type: String, required: true },
    hash: { type: String, required: true },
    changed_at: { type: Date, required: true },
  },
  { collection: 'passwords', versionKey: false },
);
passwordSchema.index({ user_id: 1 }, { unique: true });

const invitationSchema = new Schema<InvitationRecord>(
  {
    invitation_id: { type: String, required: true },
    user_id: { type: String, required: true },
    token_hash: { type: String, required: true },
    created_at: { type: Date, required: true },
    expires_at: { type: Date, required: true },
    used_at: { type: Date, default: null },
  },
  { collection: 'invitations', versionKey: false },
);
invitationSchema.index({ token_hash: 1 }, { unique: true });
invitationSchema.index({ invitation_id: 1 }, { unique: true });
invitationSchema.index({ user_id: 1 });

export function createPeopleModels(connection: Connection) {
  return {
    passwords: connection.model<PasswordRecord>('Password', passwordSchema),
    invitations: connection.model<InvitationRecord>('Invitation', invitationSchema),
  };
}
