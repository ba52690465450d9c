import { z } from 'zod';

/** Request and response bodies of the "Users and keys" routes (api.md). */

export const usernameSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_.-]{0,63}$/, 'lower-case letters, digits, _ . - (1 to 64)');

export const createUserBodySchema = z.strictObject({
  username: usernameSchema,
  // RFC 5321 caps the local part at 64 characters: an address past it cannot be delivered to.
  email: z
    .email()
    .max(254)
    .refine((email) => email.lastIndexOf('@') <= 64, {
      message: 'the part before @ may not be longer than 64 characters',
    }),
});
export type CreateUserBody = z.infer<typeof createUserBodySchema>;

export const userViewSchema = z.object({
  user_id: z.string(),
  username: z.string(),
  email: z.string(),
  created_at: z.iso.datetime(),
  updated_at: z.iso.datetime(),
});
export type UserView = z.infer<typeof userViewSchema>;

export const accessKeyViewSchema = z.object({
  key_id: z.string(),
  prefix: z.string(),
  created_at: z.iso.datetime(),
  last_used_at: z.iso.datetime().nullable(),
  revoked_at: z.iso.datetime().nullable(),
});
export type AccessKeyView = z.infer<typeof accessKeyViewSchema>;

export const createUserResponseSchema = z.object({
  user: userViewSchema,
  key_id: z.string(),
  /** Shown once; only its sha256 is stored. */
  api_key: z.string(),
});

export const issuedKeyResponseSchema = z.object({ key_id: z.string(), api_key: z.string() });
