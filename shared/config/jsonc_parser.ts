/**
 * A JSONC parser (JSON with comments and trailing commas) that builds the
 * syntax tree `npm:jsonc-parser` builds, with the same node shape, offsets and
 * first-error codes, for the parts Burrow uses: {@linkcode parseTree},
 * {@linkcode findNodeAtLocation}, {@linkcode getNodeValue} and
 * {@linkcode printParseErrorCode}. It stops at the first error (a config with
 * a syntax error is refused whole), where jsonc-parser recovers and goes on.
 *
 * Why not the package: it ships as CommonJS, and loading it starts Deno's
 * CommonJS loader, about 3 MB of RSS for the life of every process, to read
 * a few small files at start. `jsonc_parser_test.ts` checks this parser
 * against the package on a corpus of valid and broken files.
 *
 * @module
 */

import { ERROR_CODES, type ParseErrorCode, Scanner, type Token } from "./jsonc_scanner.ts";

export type { ParseErrorCode } from "./jsonc_scanner.ts";

/** Kind of a syntax tree node. */
export type NodeType = "object" | "array" | "property" | "string" | "number" | "boolean" | "null";

/** One node of the syntax tree: a value, or a property (key and value) of an object. */
export interface Node {
  readonly type: NodeType;
  /** The value of a string, number, boolean or null node. */
  readonly value?: unknown;
  /** Offset of the node's first character in the text. */
  readonly offset: number;
  /** Characters the node spans. */
  length: number;
  /** Offset of a property's `:`. */
  colonOffset?: number;
  readonly parent?: Node;
  /** Properties of an object, elements of an array, `[key, value]` of a property. */
  children?: Node[];
}

/** The first syntax error of a text. */
export interface ParseError {
  /** What went wrong, as jsonc-parser numbers it. */
  error: number;
  offset: number;
  length: number;
}

/** Options of {@linkcode parseTree}. */
export interface ParseOptions {
  /** Accept a comma before `}` or `]`; default false. */
  allowTrailingComma?: boolean;
  /** Refuse comments; default false. */
  disallowComments?: boolean;
}

/**
 * The name of an error code: `printParseErrorCode(6)` is `"CommaExpected"`.
 *
 * @example
 * ```ts
 * printParseErrorCode(4); // "ValueExpected"
 * ```
 */
export function printParseErrorCode(code: number): string {
  return Object.entries(ERROR_CODES).find(([, n]) => n === code)?.[0] ?? "<unknown ParseErrorCode>";
}

class Stop extends Error {
  constructor(readonly parseError: ParseError) {
    super("stop");
  }
}

/**
 * Parses `text` into a tree. On a syntax error, pushes it onto `errors` and
 * returns `undefined` (jsonc-parser returns a partial tree: callers here only
 * read the first error). An empty text is an error (`ValueExpected`).
 *
 * @example
 * ```ts
 * const errors: ParseError[] = [];
 * const root = parseTree('{ "a": [1, 2,], // note\n }', errors, { allowTrailingComma: true });
 * root?.children?.[0]?.children?.[1]?.type; // "array"
 * ```
 */
export function parseTree(
  text: string,
  errors: ParseError[] = [],
  options: ParseOptions = {},
): Node | undefined {
  const parser = new Parser(text, options);
  try {
    return parser.parseDocument();
  } catch (e) {
    if (!(e instanceof Stop)) throw e;
    errors.push(e.parseError);
    return undefined;
  }
}

class Parser {
  readonly #scanner: Scanner;
  readonly #options: ParseOptions;
  #token!: Token;

  constructor(text: string, options: ParseOptions) {
    this.#scanner = new Scanner(text);
    this.#options = options;
  }

  parseDocument(): Node {
    this.#next();
    if (this.#kind() === "eof") this.#fail("ValueExpected");
    const root = this.#value(undefined);
    if (this.#kind() !== "eof") this.#fail("EndOfFileExpected");
    return root;
  }

  /** Moves to the next token that is not trivia; scan errors stop the parse. */
  #next(): void {
    for (;;) {
      const token = this.#scanner.scan();
      this.#token = token;
      if (token.error !== undefined) this.#fail(token.error);
      if (token.kind === "comment") {
        if (this.#options.disallowComments) this.#fail("InvalidCommentToken");
        continue;
      }
      if (token.kind === "unknown") this.#fail("InvalidSymbol");
      return;
    }
  }

  /** The current token's kind (a method, so TypeScript does not narrow it across #next()). */
  #kind(): Token["kind"] {
    return this.#token.kind;
  }

  #fail(code: ParseErrorCode): never {
    const { offset, length } = this.#token;
    throw new Stop({ error: ERROR_CODES[code], offset, length });
  }

  #value(parent: Node | undefined): Node {
    const token = this.#token;
    switch (token.kind) {
      case "{":
        return this.#object(parent);
      case "[":
        return this.#array(parent);
      case "string":
      case "number":
      case "true":
      case "false":
      case "null": {
        const node = literal(token, parent);
        this.#next();
        return node;
      }
      default:
        this.#fail("ValueExpected");
    }
  }

  #object(parent: Node | undefined): Node {
    return this.#container(
      "object",
      parent,
      "}",
      "CloseBraceExpected",
      (node) => this.#property(node),
    );
  }

  #property(parent: Node): Node {
    const key = this.#token;
    if (key.kind !== "string") this.#fail("PropertyNameExpected");
    const node: Node = { type: "property", offset: key.offset, length: 0, parent, children: [] };
    node.children!.push(literal(key, node));
    this.#next();
    if (this.#kind() !== ":") this.#fail("ColonExpected");
    node.colonOffset = this.#token.offset;
    this.#next();
    const value = this.#value(node);
    node.children!.push(value);
    node.length = value.offset + value.length - node.offset;
    return node;
  }

  #array(parent: Node | undefined): Node {
    return this.#container(
      "array",
      parent,
      "]",
      "CloseBracketExpected",
      (node) => this.#value(node),
    );
  }

  /** An object or an array: `item` parses each member, commas between, `close` ends it. */
  #container(
    type: "object" | "array",
    parent: Node | undefined,
    close: "}" | "]",
    closeError: "CloseBraceExpected" | "CloseBracketExpected",
    item: (node: Node) => Node,
  ): Node {
    const node: Node = { type, offset: this.#token.offset, length: 0, parent, children: [] };
    this.#next();
    let needsComma = false;
    while (this.#kind() !== close && this.#kind() !== "eof") {
      if (this.#kind() === ",") {
        if (!needsComma) this.#fail("ValueExpected");
        this.#next();
        if (this.#kind() === close && this.#options.allowTrailingComma) break;
      } else if (needsComma) {
        this.#fail("CommaExpected");
      }
      node.children!.push(item(node));
      needsComma = true;
    }
    if (this.#kind() !== close) this.#fail(closeError);
    node.length = this.#token.offset + 1 - node.offset;
    this.#next();
    return node;
  }
}

function literal(token: Token, parent: Node | undefined): Node {
  const { offset, length } = token;
  switch (token.kind) {
    case "string":
      return { type: "string", value: token.value, offset, length, parent };
    case "number":
      return { type: "number", value: Number(token.value), offset, length, parent };
    case "null":
      return { type: "null", value: null, offset, length, parent };
    default:
      return { type: "boolean", value: token.kind === "true", offset, length, parent };
  }
}

/**
 * The node at `path` (object keys and array indexes) below `root`, or
 * `undefined`. With a key twice in one object, the first one counts.
 */
export function findNodeAtLocation(
  root: Node | undefined,
  path: (string | number)[],
): Node | undefined {
  let node = root;
  for (const segment of path) {
    if (node === undefined) return undefined;
    if (typeof segment === "string") {
      if (node.type !== "object") return undefined;
      node = node.children?.find((p) => p.children?.[0]?.value === segment)?.children?.[1];
    } else {
      if (node.type !== "array" || segment < 0) return undefined;
      node = node.children?.[segment];
    }
  }
  return node;
}

/** The JavaScript value of a node; with a key twice in one object, the last one counts. */
export function getNodeValue(node: Node): unknown {
  switch (node.type) {
    case "array":
      return (node.children ?? []).map(getNodeValue);
    case "object": {
      const object: Record<string, unknown> = Object.create(null);
      for (const property of node.children ?? []) {
        const [key, value] = property.children ?? [];
        if (key !== undefined && value !== undefined) {
          object[key.value as string] = getNodeValue(value);
        }
      }
      return object;
    }
    default:
      return node.value;
  }
}
