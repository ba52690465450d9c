import { Liquid, type Template } from 'liquidjs';

/**
 * Liquid rendering for workflow inputs, safe for untrusted authors: only own properties are
 * visible (no `constructor`, no `__proto__`), an undefined variable or filter is an error that
 * names it, and parse size, render time and memory are bounded so a template cannot hang or
 * exhaust the worker.
 */

export interface TemplateLimits {
  /** Largest template source, in characters. */
  maxTemplateLength: number;
  /** Wall-clock budget of one render, in milliseconds. */
  renderTimeMs: number;
  /** Memory budget of one render (LiquidJS's accounting of allocated strings and arrays). */
  memoryLimit: number;
  /** Longest text a render may produce. */
  maxOutputLength: number;
}

export const defaultTemplateLimits: TemplateLimits = {
  maxTemplateLength: 200_000,
  renderTimeMs: 1_000,
  memoryLimit: 20_000_000,
  maxOutputLength: 2_000_000,
};

export class TemplateError extends Error {
  override readonly name = 'TemplateError';
}

const loneExpression = /^\s*\{\{-?\s*([\s\S]*?)\s*-?\}\}\s*$/;

const MAX_PARSED_TEMPLATES = 500;

export class TemplateEngine {
  private readonly liquid: Liquid;
  /**
   * Parsed templates by source. Liquid's own `cache` covers templates loaded from files only, and a
   * workflow renders the same few sources for every run.
   */
  private readonly parsed = new Map<string, Template[]>();

  constructor(private readonly limits: TemplateLimits = defaultTemplateLimits) {
    this.liquid = new Liquid({
      strictVariables: true,
      strictFilters: true,
      ownPropertyOnly: true,
      parseLimit: limits.maxTemplateLength,
      renderLimit: limits.renderTimeMs,
      memoryLimit: limits.memoryLimit,
      cache: 500,
    });
  }

  private fail(template: string, error: unknown): never {
    const message = error instanceof Error ? error.message : String(error);
    const excerpt = template.length > 60 ? `${template.slice(0, 57)}...` : template;
    throw new TemplateError(`template "${excerpt}": ${message}`);
  }

  /**
   * A string that is exactly one `{{ expression }}` yields the expression's native value (array,
   * object, number); any other template yields text.
   */
  async renderValue(template: string, context: Record<string, unknown>): Promise<unknown> {
    if (!template.includes('{{') && !template.includes('{%')) return template;
    const lone = loneExpression.exec(template);
    if (lone?.[1] !== undefined && !lone[1].includes('}}') && !lone[1].includes('{{')) {
      try {
        return await this.liquid.evalValue(lone[1], context);
      } catch (error) {
        this.fail(template, error);
      }
    }
    return this.renderText(template, context);
  }

  async renderText(template: string, context: Record<string, unknown>): Promise<string> {
    if (template.length > this.limits.maxTemplateLength) {
      this.fail(template, new Error(`longer than ${this.limits.maxTemplateLength} characters`));
    }
    let text: string;
    try {
      text = String(await this.liquid.render(this.parse(template), context));
    } catch (error) {
      this.fail(template, error);
    }
    if (text.length > this.limits.maxOutputLength) {
      this.fail(template, new Error(`renders more than ${this.limits.maxOutputLength} characters`));
    }
    return text;
  }

  private parse(template: string): Template[] {
    let parsed = this.parsed.get(template);
    if (parsed) {
      this.parsed.delete(template);
    } else {
      parsed = this.liquid.parse(template);
      if (this.parsed.size >= MAX_PARSED_TEMPLATES)
        this.parsed.delete(this.parsed.keys().next().value as string);
    }
    this.parsed.set(template, parsed);
    return parsed;
  }

  /** A `when` condition: a Liquid expression, true when it evaluates truthy in Liquid's sense. */
  async evaluateCondition(expression: string, context: Record<string, unknown>): Promise<boolean> {
    const source = loneExpression.exec(expression)?.[1] ?? expression;
    try {
      const value: unknown = await this.liquid.evalValue(source, context);
      // Liquid truthiness: only false and nil are false.
      return value !== false && value !== null && value !== undefined;
    } catch (error) {
      this.fail(expression, error);
    }
  }

  /** Renders every string inside a JSON value; `renderAs` picks how top-level keys are treated. */
  async renderInputs(
    inputs: Record<string, unknown>,
    context: Record<string, unknown>,
    renderAs: Readonly<Record<string, 'value' | 'text' | 'raw'>> = {},
  ): Promise<Record<string, unknown>> {
    const rendered: [string, unknown][] = [];
    for (const [key, value] of Object.entries(inputs)) {
      const mode = renderAs[key] ?? 'value';
      if (mode === 'raw') rendered.push([key, value]);
      else if (mode === 'text' && typeof value === 'string')
        rendered.push([key, await this.renderText(value, context)]);
      else rendered.push([key, await this.renderDeep(value, context)]);
    }
    return Object.fromEntries(rendered);
  }

  private async renderDeep(value: unknown, context: Record<string, unknown>): Promise<unknown> {
    if (typeof value === 'string') return this.renderValue(value, context);
    if (Array.isArray(value)) {
      const items: unknown[] = [];
      for (const item of value) items.push(await this.renderDeep(item, context));
      return items;
    }
    if (typeof value === 'object' && value !== null) {
      const entries: [string, unknown][] = [];
      for (const [key, item] of Object.entries(value))
        entries.push([key, await this.renderDeep(item, context)]);
      return Object.fromEntries(entries);
    }
    return value;
  }
}
