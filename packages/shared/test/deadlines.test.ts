import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  MAX_DEADLINE_MS,
  MIN_DEADLINE_MS,
  durationSchema,
  moduleDeadlineOf,
  parseIsoDuration,
} from '../src/workflow/deadlines.js';
import { validateWorkflow, type WorkflowDefinition } from '../src/workflow/definition.js';
import { createModuleCatalog } from '../src/workflow/module-declarations.js';

/**
 * Deadlines as a workflow declares them (people.md, "Notifications and deadlines"; workflows.md,
 * "Deadlines"): the durations a `timeout` or `remind_every` may be written as, and the rules a
 * submission is checked against before any run exists.
 */

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

describe('parseIsoDuration', () => {
  it.each([
    ['PT1S', 1_000],
    ['PT30M', 30 * 60_000],
    ['PT1H30M', 90 * 60_000],
    ['P1DT12H', DAY + 12 * HOUR],
    ['P1W', 7 * DAY],
    ['P2D', 2 * DAY],
    ['PT1.5S', 1_500],
    ['P1.5D', 36 * HOUR],
    ['PT0S', 0],
    ['PT1H0M1S', HOUR + 1_000],
  ])('%s is %d ms', (text, ms) => {
    expect(parseIsoDuration(text)).toBe(ms);
  });

  it.each([
    // Months and years depend on the calendar: refused, not guessed.
    'P1M',
    'P1Y',
    'P1Y2M',
    // Minutes only exist after T; a bare designator or a dangling T says nothing.
    'P',
    'PT',
    'P1DT',
    '',
    // Not durations at all, or not in ISO form.
    '1500',
    '30m',
    'pt30m',
    ' PT1S',
    'PT1S ',
    'PT-1S',
    'PT.5S',
    'PT1S1M',
    'P1H',
  ])('%j is not a duration', (text) => {
    expect(parseIsoDuration(text)).toBeNull();
  });
});

describe('durationSchema', () => {
  it('turns an ISO duration or a whole number of milliseconds into milliseconds', () => {
    expect(durationSchema.parse('PT2S')).toBe(2_000);
    expect(durationSchema.parse(1_500)).toBe(1_500);
    expect(durationSchema.parse(MIN_DEADLINE_MS)).toBe(MIN_DEADLINE_MS);
    expect(durationSchema.parse('P366D')).toBe(MAX_DEADLINE_MS);
  });

  it.each([
    ['a month', 'P1M', /ISO 8601/],
    ['a number as a string', '1500', /ISO 8601/],
    ['under a second', 999, /between 1 s and 366 days/],
    ['under a second, in ISO', 'PT0.5S', /between 1 s and 366 days/],
    ['zero', 0, /between/],
    ['negative', -5_000, /between/],
    ['more than 366 days', 'P367D', /between 1 s and 366 days/],
    ['more than 366 days, in ms', MAX_DEADLINE_MS + 1, /between/],
  ])('refuses %s (%j)', (_name, value, message) => {
    const result = durationSchema.safeParse(value);
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((issue) => issue.message).join('; ')).toMatch(message);
  });

  it('refuses a fraction of a millisecond, a boolean and an overlong string', () => {
    expect(durationSchema.safeParse(1_500.5).success).toBe(false);
    expect(durationSchema.safeParse(true).success).toBe(false);
    expect(durationSchema.safeParse(`PT${'1'.repeat(70)}S`).success).toBe(false);
  });
});

describe('moduleDeadlineOf', () => {
  it('is null without a timeout, and fills in what the definition leaves out', () => {
    expect(moduleDeadlineOf({})).toBeNull();
    expect(moduleDeadlineOf({ timeout: 5_000 })).toEqual({
      timeoutMs: 5_000,
      onTimeout: 'fail',
      remindEveryMs: null,
      defaultResponse: undefined,
    });
    // A reminder without its own interval comes every timeout.
    expect(moduleDeadlineOf({ timeout: 5_000, on_timeout: 'remind' })?.remindEveryMs).toBe(5_000);
    expect(
      moduleDeadlineOf({ timeout: 5_000, on_timeout: 'remind', remind_every: 2_000 })
        ?.remindEveryMs,
    ).toBe(2_000);
    expect(
      moduleDeadlineOf({
        timeout: 5_000,
        on_timeout: 'default',
        default_response: { confirmed: true },
      }),
    ).toMatchObject({ onTimeout: 'default', defaultResponse: { confirmed: true } });
  });
});

/** A plugin's interactive module, whose answer is any JSON object. */
const catalog = createModuleCatalog({
  'acme.ask': {
    interactive: true,
    effects: 'none',
    summary: 'Asks in its own way',
    inputs: z.strictObject({ prompt: z.string() }),
  },
});

/** A one-module workflow whose module (at steps[0].modules[0]) has `fields` added. */
function oneModule(module: Record<string, unknown>) {
  return {
    workflow_id: 'deadlines',
    initial_state: { options: ['a', 'b'] },
    steps: [
      { step_id: 'first', modules: [{ module_id: 'transform.set', name: 'set', inputs: {} }] },
      { step_id: 'ask', modules: [{ name: 'ask', ...module }] },
    ],
  };
}

const at = (field: string) => `steps[1].modules[0].${field}`;
const select = { module_id: 'user.select', inputs: { prompt: 'Pick', options: ['x', 'y'] } };
const confirm = { module_id: 'user.confirm', inputs: { message: 'Go?' } };
const textInput = { module_id: 'user.text_input', inputs: { prompt: 'Name?' } };

function errorsOf(module: Record<string, unknown>) {
  const result = validateWorkflow(oneModule(module), catalog);
  return result.ok ? [] : result.errors;
}

function accepted(module: Record<string, unknown>): WorkflowDefinition {
  const result = validateWorkflow(oneModule(module), catalog);
  if (!result.ok) throw new Error(`refused: ${JSON.stringify(result.errors)}`);
  return result.workflow;
}

describe('deadlines at submission', () => {
  it('accepts each policy on an interactive module, with durations in milliseconds', () => {
    const failing = accepted({ ...confirm, timeout: 'PT2S' }).steps[1]?.modules[0];
    expect(failing).toMatchObject({ timeout: 2_000 });
    expect(failing?.on_timeout).toBeUndefined();
    const defaulted = accepted({
      ...select,
      timeout: 1_500,
      on_timeout: 'default',
      default_response: { selected_indices: [0] },
    }).steps[1]?.modules[0];
    expect(defaulted).toMatchObject({
      timeout: 1_500,
      on_timeout: 'default',
      default_response: { selected_indices: [0] },
    });
    const reminding = accepted({
      ...textInput,
      timeout: 'P1D',
      on_timeout: 'remind',
      remind_every: 'PT4H',
    }).steps[1]?.modules[0];
    expect(reminding).toMatchObject({ timeout: DAY, remind_every: 4 * HOUR });
    expect(accepted({ ...textInput, timeout: 'PT1M', on_timeout: 'remind' })).toBeDefined();
  });

  it('accepts a select default whose index only the rendered options can judge', () => {
    // Options rendered from state: whether index 5 exists is known when the deadline fires.
    expect(
      accepted({
        module_id: 'user.select',
        inputs: { prompt: 'Pick', options: '{{ state.options }}' },
        timeout: 'PT2S',
        on_timeout: 'default',
        default_response: { selected_indices: [5] },
      }),
    ).toBeDefined();
  });

  it('refuses a default_response that is not an answer the module takes, at its path', () => {
    expect(
      errorsOf({
        ...confirm,
        timeout: 'PT2S',
        on_timeout: 'default',
        default_response: { confirmed: 'yes' },
      }),
    ).toEqual([
      {
        path: at('default_response.confirmed'),
        message: expect.stringMatching(/^not an answer user\.confirm takes: /) as unknown,
      },
    ]);
    expect(
      errorsOf({ ...textInput, timeout: 'PT2S', on_timeout: 'default', default_response: {} }),
    ).toEqual([expect.objectContaining({ path: at('default_response.value') })]);
    expect(
      errorsOf({
        ...select,
        timeout: 'PT2S',
        on_timeout: 'default',
        default_response: { selected_indices: [0], extra: true },
      }).map((error) => error.path),
    ).toEqual([at('default_response')]);
    expect(
      errorsOf({
        ...select,
        timeout: 'PT2S',
        on_timeout: 'default',
        default_response: { selected_indices: [-1] },
      }).map((error) => error.path),
    ).toEqual([at('default_response.selected_indices[0]')]);
    expect(
      errorsOf({ ...confirm, timeout: 'PT2S', on_timeout: 'default', default_response: null }),
    ).toEqual([expect.objectContaining({ path: at('default_response') })]);
  });

  it("takes any object as a plugin module's default, and nothing else", () => {
    const plugin = { module_id: 'acme.ask', inputs: { prompt: 'Well?' } };
    expect(
      accepted({
        ...plugin,
        timeout: 'PT2S',
        on_timeout: 'default',
        default_response: { anything: [1, 2] },
      }),
    ).toBeDefined();
    expect(
      errorsOf({ ...plugin, timeout: 'PT2S', on_timeout: 'default', default_response: 'yes' }).map(
        (error) => error.path,
      ),
    ).toEqual([at('default_response')]);
  });

  it('refuses on_timeout "default" without a default_response, and the reverse', () => {
    expect(errorsOf({ ...confirm, timeout: 'PT2S', on_timeout: 'default' })).toEqual([
      { path: at('default_response'), message: expect.stringMatching(/needs default_response/) },
    ]);
    for (const onTimeout of [undefined, 'fail', 'remind'])
      expect(
        errorsOf({
          ...confirm,
          timeout: 'PT2S',
          ...(onTimeout === undefined ? {} : { on_timeout: onTimeout }),
          default_response: { confirmed: true },
        }),
      ).toEqual([
        {
          path: at('default_response'),
          message: 'default_response is only used with on_timeout "default"',
        },
      ]);
  });

  it('refuses remind_every without on_timeout "remind"', () => {
    expect(errorsOf({ ...confirm, timeout: 'PT2S', remind_every: 'PT1S' })).toEqual([
      {
        path: at('remind_every'),
        message: 'remind_every is only used with on_timeout "remind"',
      },
    ]);
  });

  it('refuses every deadline field without a timeout, at its own path', () => {
    expect(errorsOf({ ...confirm, on_timeout: 'fail' })).toEqual([
      {
        path: at('on_timeout'),
        message: 'on_timeout needs timeout (how long the question may wait)',
      },
    ]);
    expect(
      errorsOf({ ...confirm, on_timeout: 'remind', remind_every: 'PT1H' }).map((e) => e.path),
    ).toEqual([at('on_timeout'), at('remind_every')]);
  });

  it('refuses a deadline on a module that asks nobody anything', () => {
    const errors = validateWorkflow(
      {
        workflow_id: 'deadlines',
        steps: [
          {
            step_id: 'only',
            modules: [
              {
                module_id: 'transform.set',
                name: 'set',
                inputs: { value: 1 },
                timeout: 'PT5S',
                on_timeout: 'fail',
              },
            ],
          },
        ],
      },
      catalog,
    );
    expect(errors).toEqual({
      ok: false,
      errors: [
        {
          path: 'steps[0].modules[0].timeout',
          message: "module 'transform.set' asks nobody anything, so it cannot have a deadline",
        },
        {
          path: 'steps[0].modules[0].on_timeout',
          message: "module 'transform.set' asks nobody anything, so it cannot have a deadline",
        },
      ],
    });
  });

  it.each([
    ['a month', 'P1M'],
    ['a year', 'P1Y'],
    ['under a second', 500],
    ['not a duration', 'soon'],
  ])('refuses a timeout of %s at its path', (_name, timeout) => {
    expect(errorsOf({ ...confirm, timeout }).map((error) => error.path)).toEqual([at('timeout')]);
  });

  it('refuses a bad remind_every at its path, and an unknown on_timeout', () => {
    expect(
      errorsOf({ ...confirm, timeout: 'PT1H', on_timeout: 'remind', remind_every: 'P1M' }).map(
        (error) => error.path,
      ),
    ).toEqual([at('remind_every')]);
    expect(
      errorsOf({ ...confirm, timeout: 'PT1H', on_timeout: 'escalate' }).map((error) => error.path),
    ).toEqual([at('on_timeout')]);
  });
});
