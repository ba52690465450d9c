/**
 * Jinja2 (the original's templates) to Liquid (Stepwise's). Only what both mean the same way is
 * converted: variable paths (`state.a.b`, `state.a[state.b[0]]`), simple `if`/`elif`/`else` and
 * `for … in …` blocks, `loop.*` → `forloop.*`, and a few filters with a same-meaning Liquid
 * filter. Anything else (Python calls, `set`, `is defined`, `~`, unknown filters, names outside
 * Stepwise's template context) is returned as a problem, and the text is left as it was, so the
 * importer can report it instead of producing a template that means something else.
 */

export interface TemplateConversion {
  text: string;
  problems: string[];
}

/** Names a Stepwise template can read (workflow-format.md, "Templates"). */
const CONTEXT_ROOTS = new Set(['state', 'config', 'run', 'now']);

/** Jinja filter → Liquid filter of the same meaning (null: a no-op in Liquid, dropped). */
const FILTERS: Readonly<Record<string, string | null>> = {
  tojson: 'json',
  length: 'size',
  count: 'size',
  upper: 'upcase',
  lower: 'downcase',
  trim: 'strip',
  capitalize: 'capitalize',
  first: 'first',
  last: 'last',
  join: 'join',
  default: 'default',
  replace: 'replace',
  round: 'round',
  abs: 'abs',
  escape: 'escape',
  e: 'escape',
  safe: null,
};

const LOOP_FIELDS: Readonly<Record<string, string>> = {
  index: 'forloop.index',
  index0: 'forloop.index0',
  first: 'forloop.first',
  last: 'forloop.last',
  length: 'forloop.length',
  revindex: 'forloop.rindex',
  revindex0: 'forloop.rindex0',
};

class Unsupported extends Error {}

type Token = { kind: 'ident' | 'number' | 'string' | 'punct' | 'op'; text: string };

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  const pattern =
    /\s+|([A-Za-z_][A-Za-z0-9_]*)|(\d+(?:\.\d+)?)|("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')|(==|!=|<=|>=|<|>)|([.[\](),|:])|(.)/gy;
  let match: RegExpExecArray | null;
  while ((match = pattern.exec(source)) !== null) {
    if (match[1] !== undefined) tokens.push({ kind: 'ident', text: match[1] });
    else if (match[2] !== undefined) tokens.push({ kind: 'number', text: match[2] });
    else if (match[3] !== undefined) tokens.push({ kind: 'string', text: match[3] });
    else if (match[4] !== undefined) tokens.push({ kind: 'op', text: match[4] });
    else if (match[5] !== undefined) tokens.push({ kind: 'punct', text: match[5] });
    else if (match[6] !== undefined)
      throw new Unsupported(`'${match[6]}' has no Liquid equivalent`);
  }
  return tokens;
}

/** A recursive-descent reader of the Jinja expressions that Liquid can also say. */
class ExpressionReader {
  private position = 0;

  constructor(
    private readonly tokens: Token[],
    private readonly loopVariables: ReadonlySet<string>,
  ) {}

  private peek(): Token | undefined {
    return this.tokens[this.position];
  }

  private take(): Token {
    const token = this.tokens[this.position];
    if (!token) throw new Unsupported('the expression ends too early');
    this.position += 1;
    return token;
  }

  private expect(text: string): void {
    const token = this.take();
    if (token.text !== text) throw new Unsupported(`expected '${text}', found '${token.text}'`);
  }

  atEnd(): boolean {
    return this.position >= this.tokens.length;
  }

  atWord(word: string): boolean {
    const token = this.peek();
    return token?.kind === 'ident' && token.text === word;
  }

  skipWord(word: string): void {
    this.expect(word);
  }

  /** A literal or a variable path. */
  operand(): string {
    const token = this.take();
    if (token.kind === 'number' || token.kind === 'string') return token.text;
    if (token.kind !== 'ident') throw new Unsupported(`'${token.text}' has no Liquid equivalent`);
    if (token.text === 'None' || token.text === 'none') return 'nil';
    if (token.text === 'True' || token.text === 'true') return 'true';
    if (token.text === 'False' || token.text === 'false') return 'false';
    return this.path(token.text);
  }

  private path(root: string): string {
    let text: string;
    let rest = true;
    if (root === 'loop') {
      this.expect('.');
      const field = this.take().text;
      const mapped = LOOP_FIELDS[field];
      if (!mapped) throw new Unsupported(`loop.${field} has no Liquid equivalent`);
      text = mapped;
      rest = false;
    } else if (root === 'step' && this.peek()?.text === '.') {
      this.expect('.');
      const field = this.take().text;
      if (field !== 'step_id')
        throw new Unsupported(`step.${field} is not in Stepwise's template context`);
      text = 'run.step_id';
    } else if (CONTEXT_ROOTS.has(root) || this.loopVariables.has(root)) {
      text = root;
    } else {
      throw new Unsupported(
        `'${root}' is not in Stepwise's template context (state, config, run, now)`,
      );
    }
    while (rest) {
      const next = this.peek();
      if (next?.text === '.') {
        this.take();
        const field = this.take();
        if (field.kind !== 'ident' && field.kind !== 'number')
          throw new Unsupported(`'.${field.text}' has no Liquid equivalent`);
        text += `.${field.text}`;
      } else if (next?.text === '[') {
        this.take();
        const inner = this.operand();
        this.expect(']');
        text += `[${inner}]`;
      } else if (next?.text === '(') {
        throw new Unsupported('a Python call has no Liquid equivalent');
      } else break;
    }
    return text;
  }

  /** `operand (| filter(args))*`, as Liquid. */
  filtered(): string {
    let text = this.operand();
    while (this.peek()?.text === '|') {
      this.take();
      const name = this.take().text;
      if (!(name in FILTERS)) throw new Unsupported(`the Jinja filter '${name}' is not converted`);
      const args: string[] = [];
      if (this.peek()?.text === '(') {
        this.take();
        while (this.peek()?.text !== ')') {
          args.push(this.operand());
          if (this.peek()?.text === ',') this.take();
        }
        this.expect(')');
      }
      const liquid = FILTERS[name];
      if (liquid === null || liquid === undefined) continue;
      text += args.length === 0 ? ` | ${liquid}` : ` | ${liquid}: ${args.join(', ')}`;
    }
    return text;
  }

  /** `[not] comparison ((and|or) comparison)*` with `a in b` as `b contains a`. */
  condition(): { text: string; negated: boolean } {
    let negated = false;
    if (this.atWord('not')) {
      this.take();
      negated = true;
    }
    const parts: string[] = [this.comparison()];
    while (this.atWord('and') || this.atWord('or')) {
      if (negated)
        throw new Unsupported("'not' over a compound condition has no Liquid equivalent");
      parts.push(this.take().text, this.comparison());
    }
    return { text: parts.join(' '), negated };
  }

  private comparison(): string {
    if (this.atWord('not'))
      throw new Unsupported("'not' inside a condition has no Liquid equivalent");
    let left = this.operand();
    // `x | length` in a condition: Liquid allows no filters there, but has `.size`.
    if (this.peek()?.text === '|') {
      this.take();
      const filter = this.take().text;
      if (filter !== 'length' && filter !== 'count')
        throw new Unsupported(`the filter '${filter}' inside a condition has no Liquid equivalent`);
      left += '.size';
    }
    const next = this.peek();
    if (next?.kind === 'op') {
      this.take();
      return `${left} ${next.text} ${this.operand()}`;
    }
    if (this.atWord('in')) {
      this.take();
      return `${this.operand()} contains ${left}`;
    }
    if (this.atWord('is')) throw new Unsupported("Jinja tests ('is …') have no Liquid equivalent");
    return left;
  }
}

type Block = 'if' | 'unless' | 'for';

function convertTag(body: string, open: Block[], loopVariables: Set<string>): string {
  const tokens = tokenize(body);
  const name = tokens[0]?.text ?? '';
  const reader = new ExpressionReader(tokens.slice(1), loopVariables);
  const finish = (text: string) => {
    if (!reader.atEnd()) throw new Unsupported(`'{% ${body} %}' has more than Liquid can say`);
    return text;
  };
  switch (name) {
    case 'if': {
      const { text, negated } = reader.condition();
      open.push(negated ? 'unless' : 'if');
      return finish(`${negated ? 'unless' : 'if'} ${text}`);
    }
    case 'elif': {
      if (open.at(-1) !== 'if')
        throw new Unsupported("'elif' after 'if not' has no Liquid equivalent");
      const { text, negated } = reader.condition();
      if (negated) throw new Unsupported("'elif not' has no Liquid equivalent");
      return finish(`elsif ${text}`);
    }
    case 'else':
      return finish('else');
    case 'endif': {
      const block = open.pop();
      if (block !== 'if' && block !== 'unless') throw new Unsupported("an unmatched 'endif'");
      return finish(block === 'if' ? 'endif' : 'endunless');
    }
    case 'for': {
      const variable = tokens[1];
      if (variable?.kind !== 'ident' || tokens[2]?.text !== 'in')
        throw new Unsupported(`'{% ${body} %}' (only 'for x in …' converts)`);
      const inner = new ExpressionReader(tokens.slice(3), loopVariables);
      const source = inner.operand();
      if (!inner.atEnd()) throw new Unsupported(`'{% ${body} %}' (only 'for x in …' converts)`);
      open.push('for');
      loopVariables.add(variable.text);
      return `for ${variable.text} in ${source}`;
    }
    case 'endfor':
      if (open.pop() !== 'for') throw new Unsupported("an unmatched 'endfor'");
      return finish('endfor');
    default:
      throw new Unsupported(`the Jinja tag '${name}' has no Liquid equivalent`);
  }
}

const SEGMENT = /\{\{(-?)([\s\S]*?)(-?)\}\}|\{%(-?)([\s\S]*?)(-?)%\}|\{#([\s\S]*?)#\}/g;

/** True for text that holds Jinja (or Liquid) template syntax. */
export function hasTemplateSyntax(text: string): boolean {
  return /\{\{|\{%|\{#/.test(text);
}

/** Converts one Jinja template to Liquid, or reports why it cannot be. */
export function convertJinjaTemplate(text: string): TemplateConversion {
  if (!hasTemplateSyntax(text)) return { text, problems: [] };
  const problems: string[] = [];
  const open: Block[] = [];
  const loopVariables = new Set<string>();
  const converted = text.replace(
    SEGMENT,
    (
      whole: string,
      outLeft?: string,
      output?: string,
      outRight?: string,
      tagLeft?: string,
      tag?: string,
      tagRight?: string,
      comment?: string,
    ) => {
      try {
        if (output !== undefined) {
          const reader = new ExpressionReader(tokenize(output), loopVariables);
          const expression = reader.filtered();
          if (!reader.atEnd())
            throw new Unsupported(`'{{${output}}}' has more than a path and filters`);
          return `{{${outLeft ?? ''} ${expression} ${outRight ?? ''}}}`;
        }
        if (tag !== undefined)
          return `{%${tagLeft ?? ''} ${convertTag(tag.trim(), open, loopVariables)} ${tagRight ?? ''}%}`;
        return `{% comment %}${comment ?? ''}{% endcomment %}`;
      } catch (error) {
        if (!(error instanceof Unsupported)) throw error;
        problems.push(
          `${error.message}: ${whole.length > 80 ? `${whole.slice(0, 77)}...` : whole}`,
        );
        return whole;
      }
    },
  );
  if (problems.length === 0 && open.length > 0)
    problems.push(`an unclosed '${open.at(-1) ?? ''}' block`);
  return problems.length > 0 ? { text, problems } : { text: converted, problems: [] };
}
