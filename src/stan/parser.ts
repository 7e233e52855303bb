import { AvbUserError } from '../errors.js';
import { tokenize } from './lexer.js';
import type { Token } from './lexer.js';

/** Expressions of the Stan subset. */
export type Expr =
  | { e: 'num'; value: number; int: boolean }
  | { e: 'var'; name: string; line: number }
  | { e: 'call'; name: string; args: Expr[]; line: number }
  | { e: 'bin'; op: string; a: Expr; b: Expr; line: number }
  | { e: 'un'; op: string; a: Expr; line: number }
  | { e: 'cond'; c: Expr; a: Expr; b: Expr }
  | { e: 'index'; a: Expr; idx: Index[]; line: number }
  | { e: 'transpose'; a: Expr; line: number }
  | { e: 'array'; items: Expr[]; line: number }
  | { e: 'rowvec'; items: Expr[]; line: number };

/** One index: a single position, a range (either end may be open), or every position. */
export type Index = { i: 'one'; at: Expr } | { i: 'range'; from?: Expr; to?: Expr } | { i: 'all' };

/** A declared type: `array[dims] base[sizes]<bounds>`. */
export interface TypeSpec {
  /** int, real, vector, row_vector, matrix, simplex, ordered, positive_ordered, ... */
  base: string;
  /** The base's own sizes (vector[N]: [N]; matrix[N, K]: [N, K]). */
  sizes: Expr[];
  /** Array dimensions, outermost first. */
  dims: Expr[];
  lower?: Expr;
  upper?: Expr;
  /** `<offset=o, multiplier=m>`: the parameter is o + m u for its free coordinate u. */
  offset?: Expr;
  multiplier?: Expr;
}

export interface Decl {
  name: string;
  type: TypeSpec;
  init?: Expr;
  line: number;
}

export type Stmt =
  | { s: 'decl'; decl: Decl }
  | { s: 'assign'; target: Expr; op: string; value: Expr; line: number }
  | {
      s: 'tilde';
      lhs: Expr;
      dist: string;
      args: Expr[];
      line: number;
      /** `T[lower, upper]`: the density truncated (either bound may be absent). */
      truncation?: { lower?: Expr; upper?: Expr };
    }
  | { s: 'target'; value: Expr; line: number }
  | { s: 'for'; v: string; from: Expr; to: Expr; body: Stmt; line: number }
  | { s: 'foreach'; v: string; over: Expr; body: Stmt; line: number }
  | { s: 'while'; c: Expr; body: Stmt }
  | { s: 'if'; c: Expr; then: Stmt; else?: Stmt }
  | { s: 'block'; body: Stmt[] }
  | { s: 'break' }
  | { s: 'continue' }
  | { s: 'reject'; line: number }
  | { s: 'return'; value?: Expr; line: number }
  | { s: 'expr'; value: Expr };

/** A user-defined function of the `functions` block. */
export interface FunctionDef {
  name: string;
  /** The return type's base (`void`, `real`, `vector`, ...); arrays are not told apart. */
  returns: string;
  params: { name: string; base: string }[];
  body: Stmt;
  line: number;
}

/** A Stan program's blocks (those absent are empty). */
export interface Program {
  data: Decl[];
  transformedData: Stmt[];
  parameters: Decl[];
  transformedParameters: Stmt[];
  model: Stmt[];
  functions: FunctionDef[];
  /** Run once per draw after the fit (`_rng` functions draw from the draw's own generator). */
  generatedQuantities: Stmt[];
}

const BASE_TYPES = new Set([
  'int',
  'real',
  'vector',
  'row_vector',
  'matrix',
  'simplex',
  'ordered',
  'positive_ordered',
  'unit_vector',
  'sum_to_zero_vector',
  'cholesky_factor_corr',
  'cholesky_factor_cov',
  'corr_matrix',
  'cov_matrix',
]);

/** Parses the Stan program `source` (named `file` in errors). */
export function parseStan(source: string, file: string): Program {
  return new Parser(tokenize(source, file), file).program();
}

class Parser {
  private pos = 0;
  constructor(
    private readonly t: Token[],
    private readonly file: string,
  ) {}

  private get peek(): Token {
    return this.t[this.pos];
  }
  private fail(what: string, at: Token = this.peek): never {
    throw new AvbUserError(`${this.file}:${at.line}: ${what}`);
  }
  private is(text: string, k = 0): boolean {
    const tok = this.t[this.pos + k];
    return (tok.kind === 'op' || tok.kind === 'ident') && tok.text === text;
  }
  private eat(text: string): boolean {
    if (!this.is(text)) return false;
    this.pos++;
    return true;
  }
  private expect(text: string): Token {
    if (!this.is(text))
      this.fail(`expected '${text}' but found '${this.peek.text || 'the end of the file'}'`);
    return this.t[this.pos++];
  }
  private ident(): Token {
    if (this.peek.kind !== 'ident') this.fail(`expected a name, found '${this.peek.text}'`);
    return this.t[this.pos++];
  }

  program(): Program {
    const p: Program = {
      data: [],
      transformedData: [],
      parameters: [],
      transformedParameters: [],
      model: [],
      functions: [],
      generatedQuantities: [],
    };
    while (this.peek.kind !== 'eof') {
      const words: string[] = [];
      while (this.peek.kind === 'ident') words.push(this.ident().text);
      const block = words.join(' ');
      this.expect('{');
      const body = () => this.statements();
      switch (block) {
        case 'functions':
          p.functions = this.functionDefs();
          break;
        case 'data':
          p.data = this.declarations();
          break;
        case 'transformed data':
          p.transformedData = body();
          break;
        case 'parameters':
          p.parameters = this.declarations();
          break;
        case 'transformed parameters':
          p.transformedParameters = body();
          break;
        case 'model':
          p.model = body();
          break;
        case 'generated quantities':
          p.generatedQuantities = body();
          break;
        default:
          this.fail(`unknown block '${block}'`);
      }
      this.expect('}');
    }
    return p;
  }

  /** The `functions` block: definitions (a forward declaration, body `;`, is skipped). */
  private functionDefs(): FunctionDef[] {
    const out: FunctionDef[] = [];
    while (!this.is('}')) {
      const line = this.peek.line;
      const returns = this.functionType();
      const name = this.ident().text;
      this.expect('(');
      const params: FunctionDef['params'] = [];
      if (!this.eat(')')) {
        do {
          const base = this.functionType();
          params.push({ name: this.ident().text, base });
        } while (this.eat(','));
        this.expect(')');
      }
      if (this.eat(';')) continue;
      this.expect('{');
      const body: Stmt = { s: 'block', body: this.statements() };
      this.expect('}');
      out.push({ name, returns, params, body, line });
    }
    return out;
  }

  /**
   * A function's argument or return type, unsized: `data real`, `vector`, `array[,] real`,
   * `real[]` (Stan's older syntax), `void`. Returns the base type.
   */
  private functionType(): string {
    this.eat('data');
    if (this.eat('array')) {
      this.expect('[');
      this.skipTo(']');
      this.expect(']');
    }
    const tok = this.ident();
    if (tok.text !== 'void' && !BASE_TYPES.has(tok.text))
      this.fail(`unknown type '${tok.text}' in a function's signature`, tok);
    if (this.eat('[')) {
      this.skipTo(']');
      this.expect(']');
    }
    return tok.text;
  }

  private declarations(): Decl[] {
    const out: Decl[] = [];
    while (!this.is('}')) {
      const d = this.declaration();
      if (d.init) this.fail('data and parameters cannot be assigned where they are declared');
      out.push(d);
    }
    return out;
  }

  private startsDeclaration(): boolean {
    return (
      this.peek.kind === 'ident' && (this.peek.text === 'array' || BASE_TYPES.has(this.peek.text))
    );
  }

  private declaration(): Decl {
    const line = this.peek.line;
    const dims: Expr[] = [];
    if (this.eat('array')) {
      this.expect('[');
      dims.push(...this.list(']'));
    }
    const baseTok = this.ident();
    const base = baseTok.text;
    if (!BASE_TYPES.has(base)) this.fail(`unknown type '${base}'`, baseTok);
    const type: TypeSpec = { base, sizes: [], dims };
    if (this.eat('<')) {
      do {
        const key = this.ident().text;
        this.expect('=');
        const value = this.expr({ noGreater: true });
        if (key === 'lower' || key === 'upper' || key === 'offset' || key === 'multiplier')
          type[key] = value;
        else this.fail(`unknown bound '${key}'`);
      } while (this.eat(','));
      this.expect('>');
    }
    if (base !== 'int' && base !== 'real') {
      this.expect('[');
      type.sizes = this.list(']');
    }
    const name = this.ident().text;
    // Stan's older array syntax: `real y[N];`.
    if (this.eat('[')) dims.push(...this.list(']'));
    const init = this.eat('=') ? this.expr() : undefined;
    this.expect(';');
    return { name, type, init, line };
  }

  /** Comma-separated expressions up to `close` (consumed). */
  private list(close: string): Expr[] {
    const out: Expr[] = [];
    if (this.eat(close)) return out;
    do out.push(this.expr());
    while (this.eat(','));
    this.expect(close);
    return out;
  }

  private statements(): Stmt[] {
    const out: Stmt[] = [];
    while (!this.is('}')) out.push(this.statement());
    return out;
  }

  private statement(): Stmt {
    const tok = this.peek;
    if (this.startsDeclaration()) return { s: 'decl', decl: this.declaration() };
    if (this.eat('{')) {
      const body = this.statements();
      this.expect('}');
      return { s: 'block', body };
    }
    if (this.eat(';')) return { s: 'block', body: [] };
    const keyword = tok.kind === 'ident' ? this.keywordStatement(tok) : undefined;
    if (keyword) return keyword;
    const lhs = this.expr();
    if (this.eat('~')) {
      const dist = this.ident().text;
      this.expect('(');
      const args = this.list(')');
      const truncation = this.is('T') && this.is('[', 1) ? this.truncation() : undefined;
      this.expect(';');
      return { s: 'tilde', lhs, dist, args, line: tok.line, truncation };
    }
    for (const op of ['=', '<-', '+=', '-=', '*=', '/=']) {
      if (this.eat(op)) {
        if (lhs.e !== 'var' && lhs.e !== 'index')
          this.fail('only a variable can be assigned to', tok);
        const value = this.expr();
        this.expect(';');
        return { s: 'assign', target: lhs, op: op === '<-' ? '=' : op, value, line: tok.line };
      }
    }
    this.expect(';');
    return { s: 'expr', value: lhs };
  }

  /** `T[L, U]`, `T[L, ]` or `T[, U]` after a sampling statement. */
  private truncation(): { lower?: Expr; upper?: Expr } {
    this.pos += 2;
    const lower = this.is(',') ? undefined : this.expr();
    this.expect(',');
    const upper = this.is(']') ? undefined : this.expr();
    this.expect(']');
    return { lower, upper };
  }

  /** Steps over `name(...)`, whose arguments (strings, messages) nothing here evaluates. */
  private skipCall(): void {
    this.pos++;
    this.expect('(');
    this.skipTo(')');
    this.expect(')');
  }

  /** A statement that starts with a keyword (for, while, if, target +=, print, ...), if any. */
  private keywordStatement(tok: Token): Stmt | undefined {
    switch (tok.text) {
      case 'for': {
        this.pos++;
        this.expect('(');
        const v = this.ident().text;
        this.expect('in');
        const first = this.expr({ noRange: true });
        if (this.eat(':')) {
          const to = this.expr();
          this.expect(')');
          return { s: 'for', v, from: first, to, body: this.statement(), line: tok.line };
        }
        this.expect(')');
        return { s: 'foreach', v, over: first, body: this.statement(), line: tok.line };
      }
      case 'while': {
        this.pos++;
        this.expect('(');
        const c = this.expr();
        this.expect(')');
        return { s: 'while', c, body: this.statement() };
      }
      case 'if': {
        this.pos++;
        this.expect('(');
        const c = this.expr();
        this.expect(')');
        const then = this.statement();
        return { s: 'if', c, then, else: this.eat('else') ? this.statement() : undefined };
      }
      case 'break':
      case 'continue':
        this.pos++;
        this.expect(';');
        return { s: tok.text };
      case 'target':
        if (this.is('+=', 1)) {
          this.pos += 2;
          const value = this.expr();
          this.expect(';');
          return { s: 'target', value, line: tok.line };
        }
        break;
      case 'increment_log_prob': {
        // Stan's old `target +=`.
        this.pos++;
        this.expect('(');
        const value = this.expr();
        this.expect(')');
        this.expect(';');
        return { s: 'target', value, line: tok.line };
      }
      case 'print':
        this.skipCall();
        this.expect(';');
        return { s: 'block', body: [] };
      case 'profile':
        // profile("name") { ... }: a timing label for Stan; here just its block.
        if (!this.is('(', 1)) break;
        this.skipCall();
        return this.statement();
      case 'reject':
      case 'fatal_error':
        this.skipCall();
        this.expect(';');
        return { s: 'reject', line: tok.line };
      case 'return': {
        this.pos++;
        const value = this.is(';') ? undefined : this.expr();
        this.expect(';');
        return { s: 'return', value, line: tok.line };
      }
    }
    return undefined;
  }

  /** Skips balanced tokens up to (not past) the `close` matching the current depth. */
  private skipTo(close: string): void {
    let depth = 0;
    while (!(depth === 0 && this.is(close))) {
      if (this.peek.kind === 'eof') this.fail(`expected '${close}'`);
      if (this.is('(') || this.is('[') || this.is('{')) depth++;
      if (this.is(')') || this.is(']') || this.is('}')) depth--;
      this.pos++;
    }
  }

  // Expressions, by precedence (lowest first), Stan's order.
  private expr(o: { noGreater?: boolean; noRange?: boolean } = {}): Expr {
    const c = this.binary(0, o);
    if (!o.noRange && this.eat('?')) {
      const a = this.expr(o);
      this.expect(':');
      return { e: 'cond', c, a, b: this.expr(o) };
    }
    return c;
  }

  private static readonly LEVELS = [
    ['||'],
    ['&&'],
    ['==', '!='],
    ['<', '<=', '>', '>='],
    ['+', '-'],
    ['*', '/', '%', '.*', './', '%/%', '\\'],
  ];

  private binary(level: number, o: { noGreater?: boolean }): Expr {
    if (level === Parser.LEVELS.length) return this.unary(o);
    let a = this.binary(level + 1, o);
    for (;;) {
      const op = Parser.LEVELS[level].find((x) => this.is(x) && !(o.noGreater && x === '>'));
      if (!op || this.peek.kind !== 'op') return a;
      const line = this.peek.line;
      this.pos++;
      a = { e: 'bin', op, a, b: this.binary(level + 1, o), line };
    }
  }

  private unary(o: { noGreater?: boolean }): Expr {
    const tok = this.peek;
    if (tok.kind === 'op' && (tok.text === '-' || tok.text === '!' || tok.text === '+')) {
      this.pos++;
      const a = this.unary(o);
      return tok.text === '+' ? a : { e: 'un', op: tok.text, a, line: tok.line };
    }
    return this.power(o);
  }

  private power(o: { noGreater?: boolean }): Expr {
    const a = this.postfix();
    // `^` and element-wise `.^`: right-associative, binding tighter than unary minus on the left.
    if ((this.is('^') || this.is('.^')) && this.peek.kind === 'op') {
      const op = this.peek.text;
      const line = this.peek.line;
      this.pos++;
      return { e: 'bin', op, a, b: this.unary(o), line };
    }
    return a;
  }

  private postfix(): Expr {
    let a = this.primary();
    for (;;) {
      const line = this.peek.line;
      if (this.eat('[')) a = { e: 'index', a, idx: this.indexes(), line };
      else if (this.is("'") && this.peek.kind === 'op') {
        this.pos++;
        a = { e: 'transpose', a, line };
      } else return a;
    }
  }

  private indexes(): Index[] {
    const out: Index[] = [];
    do {
      if (this.is(',') || this.is(']')) out.push({ i: 'all' });
      else if (this.eat(':'))
        out.push(this.is(',') || this.is(']') ? { i: 'all' } : { i: 'range', to: this.expr() });
      else {
        const at = this.expr({ noRange: true });
        if (this.eat(':'))
          out.push(
            this.is(',') || this.is(']')
              ? { i: 'range', from: at }
              : { i: 'range', from: at, to: this.expr() },
          );
        else out.push({ i: 'one', at });
      }
    } while (this.eat(','));
    this.expect(']');
    return out;
  }

  private primary(): Expr {
    const tok = this.peek;
    if (tok.kind === 'number') {
      this.pos++;
      return { e: 'num', value: Number(tok.text), int: /^\d+$/.test(tok.text) };
    }
    if (this.eat('(')) {
      const a = this.expr();
      this.expect(')');
      return a;
    }
    if (this.eat('{')) return { e: 'array', items: this.list('}'), line: tok.line };
    if (this.eat('[')) return { e: 'rowvec', items: this.list(']'), line: tok.line };
    if (tok.kind === 'ident') {
      this.pos++;
      if (this.eat('(')) {
        // f(y | theta): the `|` of a density call separates like a comma.
        const args: Expr[] = [];
        if (!this.eat(')')) {
          do args.push(this.expr());
          while (this.eat(',') || this.eat('|'));
          this.expect(')');
        }
        return { e: 'call', name: tok.text, args, line: tok.line };
      }
      return { e: 'var', name: tok.text, line: tok.line };
    }
    return this.fail(`unexpected '${tok.text || 'end of file'}'`);
  }
}
