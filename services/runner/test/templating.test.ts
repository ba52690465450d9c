import { describe, expect, it } from 'vitest';
import { TemplateEngine, TemplateError } from '../src/engine/templating.js';

const engine = new TemplateEngine({
  maxTemplateLength: 10_000,
  renderTimeMs: 500,
  memoryLimit: 5_000_000,
  maxOutputLength: 100_000,
});
const context = {
  state: { ideas: ['a', 'b'], n: 3, nested: { deep: { x: 1 } }, empty: '' },
  config: { flag: true },
  run: { project_name: 'p' },
  now: '2026-01-01T00:00:00.000Z',
};

describe('the template engine', () => {
  it('gives native values for a lone expression and text otherwise', async () => {
    expect(await engine.renderValue('{{ state.ideas }}', context)).toEqual(['a', 'b']);
    expect(await engine.renderValue('  {{- state.n -}}  ', context)).toBe(3);
    expect(await engine.renderValue('{{ state.nested }}', context)).toEqual({ deep: { x: 1 } });
    expect(await engine.renderValue('{{ state.ideas | join: "+" }}', context)).toBe('a+b');
    expect(await engine.renderValue('n={{ state.n }}', context)).toBe('n=3');
    expect(await engine.renderValue('{{ state.n }}{{ state.n }}', context)).toBe('33');
    expect(await engine.renderValue('plain', context)).toBe('plain');
    expect(await engine.renderText('{{ state.ideas }}', context)).toBe('ab');
  });

  it('evaluates conditions with Liquid truthiness', async () => {
    expect(await engine.evaluateCondition('state.n > 2 and config.flag', context)).toBe(true);
    expect(
      await engine.evaluateCondition('state.n == 2 or state.ideas contains "z"', context),
    ).toBe(false);
    expect(await engine.evaluateCondition('state.empty', context)).toBe(true);
    expect(await engine.evaluateCondition('{{ config.flag }}', context)).toBe(true);
  });

  it('names an undefined variable or filter', async () => {
    await expect(engine.renderValue('{{ state.nope }}', context)).rejects.toThrow(
      /undefined variable: state\.nope/,
    );
    await expect(engine.renderValue('x {{ state.n | shout }}', context)).rejects.toThrow(
      /undefined filter: shout/,
    );
    await expect(engine.evaluateCondition('state.missing == 1', context)).rejects.toThrow(
      TemplateError,
    );
  });

  it('sees own properties only', async () => {
    for (const template of [
      '{{ state.constructor }}',
      '{{ state.__proto__ }}',
      '{{ state.ideas.constructor }}',
      "{{ state['__proto__'] }}",
    ]) {
      await expect(engine.renderValue(template, context), template).rejects.toThrow(TemplateError);
    }
    expect(await engine.renderValue('{{ state.ideas.size }}', context)).toBe(2);
  });

  it('bounds time, memory, input and output', async () => {
    await expect(
      engine.renderText('{% for i in (1..100000000) %}{% endfor %}', context),
    ).rejects.toThrow(/limit exceeded/);
    await expect(
      engine.renderText(
        '{% assign s = "xxxxxxxxxx" %}{% for i in (1..30) %}{% assign s = s | append: s %}{% endfor %}{{ s }}',
        context,
      ),
    ).rejects.toThrow(/limit exceeded/);
    await expect(engine.renderText('x'.repeat(20_000) + '{{ state.n }}', context)).rejects.toThrow(
      /longer than/,
    );
    await expect(
      engine.renderText(
        '{% for i in (1..2000) %}{{ "0123456789012345678901234567890123456789012345678901234567890123456789" }}{% endfor %}',
        context,
      ),
    ).rejects.toThrow(/renders more than/);
  });

  it('renders inputs deeply, honouring text and raw keys', async () => {
    const rendered = await engine.renderInputs(
      {
        list: ['{{ state.n }}', { k: '{{ state.ideas }}' }],
        text: '{{ state.ideas }}',
        raw: '{{ option }}',
        keep: 5,
      },
      context,
      { text: 'text', raw: 'raw' },
    );
    expect(rendered).toEqual({
      list: [3, { k: ['a', 'b'] }],
      text: 'ab',
      raw: '{{ option }}',
      keep: 5,
    });
  });
});
