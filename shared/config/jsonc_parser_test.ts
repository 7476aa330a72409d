// The reference: the package this parser replaces at run time (a test-only import).
import * as reference from "jsonc-parser";
import assert from "node:assert/strict";
import {
  findNodeAtLocation,
  getNodeValue,
  type Node,
  type ParseError,
  parseTree,
  printParseErrorCode,
} from "./jsonc_parser.ts";

const OPTIONS = { allowTrailingComma: true, disallowComments: false };

/** A tree as plain data: type, offset, length, colon, value and children, no parents. */
function shape(node: Node | reference.Node | undefined): unknown {
  if (node === undefined) return undefined;
  return {
    type: node.type,
    offset: node.offset,
    length: node.length,
    colonOffset: node.colonOffset,
    value: node.value,
    children: node.children?.map(shape),
  };
}

/** Both parsers on `text`: the first error (code, offset) and, without error, the tree. */
function compare(text: string, options = OPTIONS): void {
  const errors: ParseError[] = [];
  const ours = parseTree(text, errors, options);
  const theirErrors: reference.ParseError[] = [];
  const theirs = reference.parseTree(text, theirErrors, options);
  const first = (e: ParseError | reference.ParseError | undefined) =>
    e && { error: printParseErrorCode(e.error), offset: e.offset };
  assert.deepEqual(
    first(errors[0]),
    first(theirErrors[0]),
    `first error of ${JSON.stringify(text)}`,
  );
  if (theirErrors.length > 0) return;
  assert.deepEqual(shape(ours), shape(theirs), `tree of ${JSON.stringify(text)}`);
  if (theirs !== undefined) {
    assert.deepEqual(getNodeValue(ours!), reference.getNodeValue(theirs), `value of ${text}`);
  }
}

const VALID = [
  "",
  "  ",
  "0",
  "-12.5e+3",
  '"a\\n\\u00e9\\"\\/"',
  "true",
  "null",
  "[]",
  "[1, [2, [3]], {}]",
  '{ "a": 1, "b": [true, false, null], "c": { "d": "e" } }',
  '{\n  // comment\n  "port": 80, /* block */\n}',
  '{ "a": [1, 2,], }',
  '{ "a": 1, "a": 2 }',
  '\uFEFF{ "bom": 1 }',
  '{\r\n  "crlf": 1\r\n}',
  '{ "x": 1e5, "y": 0.25, "z": -0 }',
  '{ "tab":\t"v" }',
];

const BROKEN = [
  '{\n  "a": 1\n  "b": 2\n}',
  '{\n  "a": \n}',
  '{ "a": 1, }\n}',
  '{ "a": tru }',
  "{ a: 1 }",
  '{ "a" 1 }',
  '{ "a": 1',
  "[1, 2",
  "[1 2]",
  "[,]",
  "{,}",
  '{ "a": "unterminated',
  '{ "a": "line\nbreak" }',
  '{ "a": "\\x" }',
  '{ "a": "\\u12" }',
  '{ "a": "ctrl\u0001char" }',
  "/* never closed",
  "/",
  "-",
  "1.",
  "1e",
  "01",
  "{} {}",
  "'single'",
  '{ "a": 1 } # trailing',
  '{ "a": NaN }',
  '{ "nbsp":\u00a0 1 }',
  "\u2028[1]",
];

Deno.test("parseTree builds jsonc-parser's tree for valid JSONC", () => {
  for (const text of VALID) compare(text);
});

Deno.test("parseTree stops at jsonc-parser's first error, with its code and offset", () => {
  for (const text of BROKEN) compare(text);
});

Deno.test("parseTree agrees with jsonc-parser on every truncation of valid files", () => {
  const files = [
    '{\n  // c\n  "listen": [{ "address": "127.0.0.1:8443", "selfSigned": true }],\n  "n": -1.5e3, /* b */ "ok": [true, null,],\n}',
    '{ "s": "\\u00e9\\n", "a": [ [], {}, "x" ] }',
  ];
  for (const file of files) {
    for (let n = 0; n <= file.length; n++) compare(file.slice(0, n));
  }
});

Deno.test("parseTree refuses comments and trailing commas when told to, like jsonc-parser", () => {
  compare("[1, // c\n 2]", { allowTrailingComma: false, disallowComments: true });
  compare("[1, 2,]", { allowTrailingComma: false, disallowComments: false });
  compare('{ "a": 1, }', { allowTrailingComma: false, disallowComments: false });
});

Deno.test("findNodeAtLocation finds keys (first of duplicates) and indexes, like jsonc-parser", () => {
  const text = '{ "a": [10, { "b": 2 }], "a": 3, "c": null }';
  const ours = parseTree(text, [], OPTIONS);
  const theirs = reference.parseTree(text, [], OPTIONS);
  const paths: (string | number)[][] = [["a"], ["a", 1, "b"], ["a", 5], ["c"], ["x"], ["c", "y"]];
  for (const path of paths) {
    assert.deepEqual(
      shape(findNodeAtLocation(ours, path)),
      shape(reference.findNodeAtLocation(theirs!, path)),
      JSON.stringify(path),
    );
  }
});

Deno.test("parseTree agrees with jsonc-parser on the conf/ samples and random edits of them", async () => {
  const texts: string[] = [];
  for (
    const dir of [
      "conf",
      "conf/server.d",
      "conf/agent.d",
      "conf/server.full.d",
      "conf/agent.full.d",
    ]
  ) {
    const url = new URL(`../../${dir}/`, import.meta.url);
    for await (const entry of Deno.readDir(url)) {
      if (entry.isFile && entry.name.endsWith(".jsonc")) {
        texts.push(await Deno.readTextFile(new URL(entry.name, url)));
      }
    }
  }
  assert.ok(texts.length >= 4, `${texts.length} samples`);
  let seed = 9;
  const random = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
  const pieces = ['"', "/", "*", ",", ":", "{", "}", "[", "]", "\\", "\n", "-", "e", "0", " "];
  for (const text of texts) {
    compare(text);
    for (let i = 0; i < 300; i++) {
      const at = random(text.length);
      const edited = random(2) === 0
        ? text.slice(0, at) + text.slice(at + 1 + random(3))
        : text.slice(0, at) + pieces[random(pieces.length)] + text.slice(at);
      compare(edited);
    }
  }
});
