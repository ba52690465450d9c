import { z } from 'zod';
import { userViewSchema } from './accounts.js';
import { documented } from './schema-docs.js';

/**
 * The HTTP shapes of people's accounts (people.md): invitations, passwords and signed-in sessions.
 * Programs keep using API keys; these are for a person in a browser.
 */

/**
 * At least 10 characters, at most 128 (people.md); counted in code points, not UTF-16 units,
 * which is also how JSON Schema's minLength and maxLength count, so the document states it as
 * those (zod's own min/max would count UTF-16 units and cannot be published that way).
 */
export const passwordSchema = documented(
  z
    .string()
    .refine((text) => [...text].length >= 10, 'must be at least 10 characters')
    .refine((text) => [...text].length <= 128, 'must be at most 128 characters')
    .describe('At least 10 and at most 128 characters'),
  (json) => {
    json['minLength'] = 10;
    json['maxLength'] = 128;
  },
);

export const invitationViewSchema = z
  .object({
    invitation_id: z.string(),
    /** The link to hand the person; its token is in the fragment, so no server log records it. */
    url: z.url(),
    expires_at: z.iso.datetime(),
  })
  .meta({ id: 'Invitation' });

export const acceptInvitationBodySchema = z.strictObject({
  /** The token from the invitation link (the part after `#`). */
  token: z.string().min(1).max(200),
  password: passwordSchema,
});

export const signInBodySchema = z.strictObject({
  /** The username or the email address. */
  login: z.string().min(1).max(254),
  password: z.string().min(1).max(1024),
});

export const sessionViewSchema = z
  .object({
    session_id: z.string(),
    user: userViewSchema,
    /**
     * Send it back as `X-CSRF-Token` on every write made with the session cookie; a write without
     * it (or from another origin) is refused.
     */
    csrf_token: z.string(),
    created_at: z.iso.datetime(),
    /** When the session ends at the latest; it ends sooner after SESSION_IDLE_MS without use. */
    expires_at: z.iso.datetime(),
  })
  .meta({ id: 'Session' });
export type SessionView = z.infer<typeof sessionViewSchema>;

export const changePasswordBodySchema = z.strictObject({
  current_password: z.string().min(1).max(1024),
  new_password: passwordSchema,
});
