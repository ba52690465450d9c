import type { components } from '@stepwise/client';

/**
 * Routes and shapes the gateway already serves (people.md: sessions, invitations, the inbox, the
 * user stream, interaction requests with `display`) but that the committed contract
 * (packages/client/openapi.json, src/schema.ts) does not describe yet. Written after the gateway's
 * zod schemas: packages/shared/src/people-api.ts, inbox-api.ts and
 * workflow/interaction-requests.ts.
 *
 * Replace with components[...] once the contract is regenerated: each type names the schema
 * that should replace it, and `PendingPaths` goes away entirely (the client in ./client.ts is
 * then `createClient<paths>`). Everything else in the app imports these names from here only.
 */

type ErrorEnvelope = components['schemas']['ErrorEnvelope'];

/** An error answer in openapi-typescript's shape. */
interface ErrorAnswer {
  headers: { [name: string]: unknown };
  content: { 'application/json': ErrorEnvelope };
}
interface JsonAnswer<Body> {
  headers: { [name: string]: unknown };
  content: { 'application/json': Body };
}
interface EmptyAnswer {
  headers: { [name: string]: unknown };
  content?: never;
}
interface NoParameters {
  query?: never;
  header?: never;
  path?: never;
  cookie?: never;
}
/** The methods a path item does not have, as openapi-typescript spells them. */
interface NoMethods {
  parameters: NoParameters;
  get?: never;
  put?: never;
  post?: never;
  delete?: never;
  options?: never;
  head?: never;
  patch?: never;
  trace?: never;
}
interface JsonBody<Body> {
  content: { 'application/json': Body };
}

// ---- shapes (replace with components['schemas'][...] once regenerated) ----

/** Replace with components['schemas']['User'] (accounts.ts userViewSchema). */
export interface UserView {
  user_id: string;
  username: string;
  email: string;
  created_at: string;
  updated_at: string;
}

/** Replace with components['schemas']['Session'] (people-api.ts sessionViewSchema). */
export interface Session {
  session_id: string;
  user: UserView;
  csrf_token: string;
  created_at: string;
  expires_at: string;
}

/** Replace with components['schemas']['DisplayItem']. */
export type DisplayItem =
  | {
      label: string;
      kind: 'text' | 'markdown' | 'image' | 'audio' | 'video' | 'artifact';
      value: string;
    }
  | { label: string; kind: 'json'; value: unknown };

/** Replace with components['schemas']['SelectOption']. */
export interface SelectOption {
  index: number;
  value: unknown;
  key: string | null;
  last_used: string | null;
  description?: string;
  image?: string;
}

/** Replace with components['schemas']['SelectRequest']. */
export interface SelectRequest {
  prompt: string;
  options: SelectOption[];
  multi: boolean;
  min: number;
  max: number;
  display?: DisplayItem[];
}

/** Replace with components['schemas']['TextInputRequest']. */
export interface TextInputRequest {
  prompt: string;
  default: string | null;
  pattern: string | null;
  min_length: number | null;
  max_length: number | null;
  display?: DisplayItem[];
}

/** Replace with components['schemas']['FormField']. */
export interface FormField {
  name: string;
  label?: string;
  type: 'string' | 'number' | 'boolean' | 'enum';
  required: boolean;
  options?: string[];
  min?: number;
  max?: number;
  min_length?: number;
  max_length?: number;
  pattern?: string;
  default?: string | number | boolean;
}

/** Replace with components['schemas']['FormRequest']. */
export interface FormRequest {
  prompt: string | null;
  fields: FormField[];
  display?: DisplayItem[];
}

/** Replace with components['schemas']['ConfirmRequest']. */
export interface ConfirmRequest {
  message: string;
  display?: DisplayItem[];
}

/** The pending interaction of a run (components['schemas']['Run']['pending_interaction']). */
export type PendingInteraction = NonNullable<components['schemas']['Run']['pending_interaction']>;

/** Replace with components['schemas']['InboxItem']. */
export interface InboxItem {
  workflow_run_id: string;
  workflow_template_name: string;
  project_name: string;
  workflow_version_id: string;
  pending_interaction: PendingInteraction;
  waiting_since: string;
}

/** Replace with components['schemas']['InboxPage']. */
export interface InboxPage {
  items: InboxItem[];
  next_cursor: string | null;
  total: number;
}

export type InboxSort = 'oldest' | 'newest';

/** `data:` of `interaction.answered` on the user stream (InboxInteractionAnswered). */
export interface InboxAnswered {
  workflow_run_id: string;
  interaction_id: string;
  seq: number;
  answered_at: string;
}

/** `data:` of `run.status` on the user stream (InboxRunStatus). */
export interface InboxRunStatus {
  workflow_run_id: string;
  workflow_template_name: string;
  project_name: string;
  status: components['schemas']['Run']['status'];
  pending_interaction_id: string | null;
  last_seq: number;
  updated_at: string;
}

/** The `event:` names of `GET /v1/me/stream` (inbox-api.ts userStreamEventNames). */
export const userStreamEventNames = [
  'interaction.requested',
  'interaction.answered',
  'run.status',
] as const;

// ---- routes (delete once regenerated: they are then in `paths`) ----

export interface PendingPaths {
  '/v1/auth/sessions': Omit<NoMethods, 'post'> & {
    post: {
      parameters: NoParameters;
      requestBody: JsonBody<{ login: string; password: string }>;
      responses: {
        201: JsonAnswer<Session>;
        400: ErrorAnswer;
        401: ErrorAnswer;
        429: ErrorAnswer;
      };
    };
  };
  '/v1/auth/invitations/accept': Omit<NoMethods, 'post'> & {
    post: {
      parameters: NoParameters;
      requestBody: JsonBody<{ token: string; password: string }>;
      responses: {
        201: JsonAnswer<Session>;
        400: ErrorAnswer;
        410: ErrorAnswer;
        429: ErrorAnswer;
      };
    };
  };
  '/v1/me/session': Omit<NoMethods, 'get' | 'delete'> & {
    get: {
      parameters: NoParameters;
      requestBody?: never;
      responses: { 200: JsonAnswer<Session>; 401: ErrorAnswer; 404: ErrorAnswer };
    };
    delete: {
      parameters: NoParameters;
      requestBody?: never;
      responses: { 204: EmptyAnswer; 401: ErrorAnswer; 403: ErrorAnswer; 404: ErrorAnswer };
    };
  };
  '/v1/me/password': Omit<NoMethods, 'put'> & {
    put: {
      parameters: NoParameters;
      requestBody: JsonBody<{ current_password: string; new_password: string }>;
      responses: { 204: EmptyAnswer; 400: ErrorAnswer; 401: ErrorAnswer; 403: ErrorAnswer };
    };
  };
  '/v1/me/interactions': Omit<NoMethods, 'get'> & {
    get: {
      parameters: {
        query?: {
          sort?: InboxSort;
          workflow_template_name?: string;
          project_name?: string;
          limit?: number;
          cursor?: string;
        };
        header?: never;
        path?: never;
        cookie?: never;
      };
      requestBody?: never;
      responses: { 200: JsonAnswer<InboxPage>; 400: ErrorAnswer; 401: ErrorAnswer };
    };
  };
}
