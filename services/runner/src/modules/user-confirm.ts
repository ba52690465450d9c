import { z } from 'zod';
import {
  builtInModuleDeclarations,
  confirmRequestSchema,
  type ConfirmRequest,
  type InteractiveModule,
  interactionAnswerSchemas,
} from '@stepwise/shared';
import { responseErrors } from './response-errors.js';

const responseSchema = interactionAnswerSchemas['user.confirm'];

export const userConfirm: InteractiveModule = {
  id: 'user.confirm',
  ...builtInModuleDeclarations['user.confirm'],
  interactive: true,
  outputs: z.object({ confirmed: z.boolean() }),
  async request(inputs) {
    return confirmRequestSchema.parse({
      message: String(inputs['message']),
    } satisfies ConfirmRequest);
  },
  async respond(_request, response) {
    const parsed = responseSchema.safeParse(response);
    if (!parsed.success) {
      return {
        ok: false,
        errors: responseErrors(parsed.error),
      };
    }
    return { ok: true, outputs: { confirmed: parsed.data.confirmed } };
  },
};
