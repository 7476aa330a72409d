/**
 * The tokenizer of `jsonc_parser.ts`: JSONC text in, tokens out, with the
 * token boundaries, scan errors and whitespace rules of `npm:jsonc-parser`'s
 * scanner (so both report a syntax error at the same place).
 *
 * @module
 */

/** jsonc-parser's error codes, by name. */
export const ERROR_CODES = {
  InvalidSymbol: 1,
  InvalidNumberFormat: 2,
  PropertyNameExpected: 3,
  ValueExpected: 4,
  ColonExpected: 5,
  CommaExpected: 6,
  CloseBraceExpected: 7,
  CloseBracketExpected: 8,
  EndOfFileExpected: 9,
  InvalidCommentToken: 10,
  UnexpectedEndOfComment: 11,
  UnexpectedEndOfString: 12,
  UnexpectedEndOfNumber: 13,
  InvalidUnicode: 14,
  InvalidEscapeCharacter: 15,
  InvalidCharacter: 16,
} as const;

/** Name of a syntax error, as jsonc-parser names it. */
export type ParseErrorCode = keyof typeof ERROR_CODES;

/** Kind of a token. Whitespace and line breaks are skipped, never returned. */
export type TokenKind =
  | "{"
  | "}"
  | "["
  | "]"
  | ":"
  | ","
  | "string"
  | "number"
  | "true"
  | "false"
  | "null"
  | "comment"
  | "unknown"
  | "eof";

/** One token: where it is, the text of a string (unescaped) or number, and its scan error. */
export interface Token {
  kind: TokenKind;
  offset: number;
  length: number;
  value: string;
  error?: ParseErrorCode;
}

const PUNCTUATION: Record<string, TokenKind> = {
  "{": "{",
  "}": "}",
  "[": "[",
  "]": "]",
  ":": ":",
  ",": ",",
};
const ESCAPES: Record<string, string> = {
  '"': '"',
  "\\": "\\",
  "/": "/",
  b: "\b",
  f: "\f",
  n: "\n",
  r: "\r",
  t: "\t",
};

/** Space and tab only, as jsonc-parser has it. */
function isWhiteSpace(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

function isLineBreak(c: number): boolean {
  return c === 0x0a || c === 0x0d;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** A character that continues a bare word (`true`, or an unknown symbol). */
function isWordCharacter(c: number): boolean {
  return !isWhiteSpace(c) && !isLineBreak(c) && !'{}[]":,/'.includes(String.fromCharCode(c));
}

/** Scans JSONC text one token at a time; see {@linkcode Scanner.scan}. */
export class Scanner {
  readonly #text: string;
  #pos = 0;
  #error: ParseErrorCode | undefined;

  constructor(text: string) {
    this.#text = text;
  }

  /** The next token that is not whitespace or a line break; `eof` at the end, again and again. */
  scan(): Token {
    const text = this.#text;
    while (this.#pos < text.length) {
      const c = text.charCodeAt(this.#pos);
      if (!isWhiteSpace(c) && !isLineBreak(c)) break;
      this.#pos++;
    }
    const offset = this.#pos;
    this.#error = undefined;
    const kind = offset >= text.length ? "eof" : this.#token();
    const value = kind === "string" ? this.#stringValue : text.slice(offset, this.#valueEnd);
    const token: Token = { kind, offset, length: this.#pos - offset, value };
    if (this.#error !== undefined) token.error = this.#error;
    return token;
  }

  #stringValue = "";
  #valueEnd = 0;

  #token(): TokenKind {
    const text = this.#text;
    const start = this.#pos;
    const ch = text[start]!;
    this.#valueEnd = start + 1;
    const punctuation = PUNCTUATION[ch];
    if (punctuation !== undefined) {
      this.#pos++;
      return punctuation;
    }
    if (ch === '"') {
      this.#pos++;
      this.#stringValue = this.#string();
      return "string";
    }
    if (ch === "/") return this.#comment();
    if (ch === "-") {
      this.#pos++;
      if (this.#pos === text.length || !isDigit(text.charCodeAt(this.#pos))) return "unknown";
    }
    if (isDigit(text.charCodeAt(this.#pos))) {
      this.#number();
      return "number";
    }
    while (this.#pos < text.length && isWordCharacter(text.charCodeAt(this.#pos))) this.#pos++;
    if (this.#pos === start) {
      this.#pos++;
      return "unknown";
    }
    this.#valueEnd = this.#pos;
    const word = text.slice(start, this.#pos);
    return word === "true" || word === "false" || word === "null" ? word : "unknown";
  }

  #comment(): TokenKind {
    const text = this.#text;
    const next = text[this.#pos + 1];
    if (next === "/") {
      this.#pos += 2;
      while (this.#pos < text.length && !isLineBreak(text.charCodeAt(this.#pos))) this.#pos++;
      return "comment";
    }
    if (next === "*") {
      const end = text.indexOf("*/", this.#pos + 2);
      if (end < 0) {
        this.#pos = text.length;
        this.#error = "UnexpectedEndOfComment";
      } else {
        this.#pos = end + 2;
      }
      return "comment";
    }
    this.#pos++;
    return "unknown";
  }

  /** Scans a string's body after the opening quote; returns it unescaped. */
  #string(): string {
    const text = this.#text;
    let result = "";
    let start = this.#pos;
    for (;;) {
      if (this.#pos >= text.length) {
        this.#error = "UnexpectedEndOfString";
        return result + text.slice(start, this.#pos);
      }
      const c = text.charCodeAt(this.#pos);
      if (c === 0x22) {
        result += text.slice(start, this.#pos++);
        return result;
      }
      if (c === 0x5c) {
        result += text.slice(start, this.#pos++);
        if (this.#pos >= text.length) {
          this.#error = "UnexpectedEndOfString";
          return result;
        }
        result += this.#escape(text[this.#pos++]!);
        start = this.#pos;
        continue;
      }
      if (c <= 0x1f) {
        if (isLineBreak(c)) {
          this.#error = "UnexpectedEndOfString";
          return result + text.slice(start, this.#pos);
        }
        this.#error = "InvalidCharacter"; // and the string goes on
      }
      this.#pos++;
    }
  }

  /** The character an escape (after the backslash) stands for; `""` for a bad one. */
  #escape(ch: string): string {
    const simple = ESCAPES[ch];
    if (simple !== undefined) return simple;
    if (ch !== "u") {
      this.#error = "InvalidEscapeCharacter";
      return "";
    }
    let digits = 0;
    let code = 0;
    while (digits < 4 && this.#pos < this.#text.length) {
      const hex = parseInt(this.#text[this.#pos]!, 16);
      if (Number.isNaN(hex)) break;
      code = code * 16 + hex;
      digits++;
      this.#pos++;
    }
    if (digits === 4) return String.fromCharCode(code);
    this.#error = "InvalidUnicode";
    return "";
  }

  /** Scans a number whose first digit is at the position (a `-` is behind it). */
  #number(): void {
    const text = this.#text;
    const digits = () => {
      while (this.#pos < text.length && isDigit(text.charCodeAt(this.#pos))) this.#pos++;
    };
    if (text[this.#pos] === "0") this.#pos++;
    else digits();
    this.#valueEnd = this.#pos;
    if (text[this.#pos] === ".") {
      this.#pos++;
      if (!isDigit(text.charCodeAt(this.#pos))) {
        this.#error = "UnexpectedEndOfNumber";
        this.#valueEnd = this.#pos;
        return;
      }
      digits();
      this.#valueEnd = this.#pos;
    }
    if (text[this.#pos] === "e" || text[this.#pos] === "E") {
      this.#pos++;
      if (text[this.#pos] === "+" || text[this.#pos] === "-") this.#pos++;
      if (!isDigit(text.charCodeAt(this.#pos))) {
        this.#error = "UnexpectedEndOfNumber";
        return;
      }
      digits();
      this.#valueEnd = this.#pos;
    }
  }
}
