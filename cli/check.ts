/**
 * `burrow check FILE…`: validates main config files (server or agent, by
 * their `mode`) and every domain file in their `domains` folders, without
 * starting anything (frp's `verify`).
 *
 * @module
 */

import { isAbsolute, relative } from "node:path";
import { parseArgs } from "node:util";
import { parseAgentConfig, parseAgentDomain } from "../agent/config.ts";
import { dataDirProblem } from "../server/audit/config.ts";
import { parseServerConfig, parseServerDomain, serverDomainParser } from "../server/config.ts";
import { type DomainFileResult, readDomainFolder } from "../shared/config/domain_folder.ts";
import { ObjectReader, readMode } from "../shared/config/fields.ts";
import { ConfigError, JsoncDocument, readConfigText } from "../shared/config/jsonc.ts";
import { runWithUsage, UsageError } from "./usage.ts";

/** Usage text of `burrow check`. */
export const CHECK_USAGE = `Usage: burrow check [--strict] <file>...

Validate configuration files without starting anything. Each <file> is a main
config (server or agent, told apart by its "mode"), whose "domains" folder is
checked too, read as the server and the agent read it at start (*.jsonc files
and links to them, not those starting with "." or "_"; a missing folder, an
invalid file or two files for one domain fail, as they refuse the start), or
a single domain file (no "mode": an agent's when it has "targets", a server's
otherwise; checked with the built-in defaults, not those of a main config).
Prints "ok: <file>" for each valid file and "<file>:<line>:<column>: <key>:
<problem>" for each invalid one. Exits 0 when every file is valid, 1 otherwise.

Options:
  --strict    Also require the files the configs name to exist (TLS
              certificates and keys, agent CA files)
  -h, --help  Show this help`;

/** How a domain file of a checked main file is parsed. */
type DomainParser = (file: string, text: string) => { name: string; file: string };

/** A path as shown to the user: relative to the working directory when inside it. */
function display(path: string): string {
  const rel = relative(Deno.cwd(), path);
  return rel === "" || rel.startsWith("..") || isAbsolute(rel) ? path : rel;
}

/** Runs `body`; prints `ok: <file><what>` or the ConfigError. Resolves to whether it was valid. */
async function report(file: string, body: () => unknown, what = ""): Promise<boolean> {
  try {
    await body();
    console.log(`ok: ${file}${what}`);
    return true;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(error.message);
    return false;
  }
}

/** A main file that parsed: its document, domains folder, domain parser and (server) data folder. */
interface CheckedMain {
  doc: JsoncDocument;
  folder: string;
  parse: DomainParser;
  dataDir?: string;
}

/**
 * Parses the main file `file`; resolves to its domains folder and the parser
 * of its domain files, or null when it is invalid (the error is printed).
 */
async function checkMain(
  file: string,
  strict: boolean,
): Promise<CheckedMain | null> {
  let result: CheckedMain | null = null;
  await report(file, async () => {
    const text = await readConfigText(file);
    const doc = JsoncDocument.parse(file, text);
    if (readMode(ObjectReader.root(doc)) === "server") {
      const config = parseServerConfig(file, text, { checkFiles: strict });
      result = {
        doc,
        folder: config.domains,
        parse: serverDomainParser(config),
        dataDir: config.dataDir,
      };
    } else {
      const config = parseAgentConfig(file, text);
      const options = { checkFiles: strict };
      result = { doc, folder: config.domains, parse: (f, t) => parseAgentDomain(f, t, options) };
    }
  });
  return result;
}

/**
 * The kind of domain file `file` is when it has no `mode` (an agent's has
 * `targets`), or null for a main file or one that cannot be read or parsed
 * ({@link checkMain} reports those).
 */
async function domainKind(file: string): Promise<"server" | "agent" | null> {
  try {
    const r = ObjectReader.root(JsoncDocument.parse(file, await readConfigText(file)));
    if (r.has("mode")) return null;
    return r.has("targets") ? "agent" : "server";
  } catch {
    return null;
  }
}

/** Checks a domain file on its own, with the built-in defaults; resolves to whether it was valid. */
async function checkDomain(file: string, kind: "server" | "agent", strict: boolean) {
  return await report(file, async () => {
    const text = await readConfigText(file);
    if (kind === "agent") parseAgentDomain(file, text, { checkFiles: strict });
    else parseServerDomain(file, text);
  }, ` (${kind} domain file)`);
}

/** Checks one main file and its domain files, or one domain file; resolves to whether all were valid. */
async function checkTree(file: string, strict: boolean): Promise<boolean> {
  const kind = await domainKind(file);
  if (kind !== null) return await checkDomain(file, kind, strict);
  const main = await checkMain(file, strict);
  if (main === null) return false;
  const dataProblem = main.dataDir === undefined ? null : dataDirProblem(main.dataDir);
  if (dataProblem !== null) {
    const detail = `folder ${JSON.stringify(main.dataDir)} ${dataProblem}`;
    console.error(main.doc.errorAt(["dataDir"], detail, "io").message);
    return false;
  }
  let results: DomainFileResult<unknown>[];
  try {
    // The same reading of the folder as the server's and the agent's at start.
    results = await readDomainFolder(display(main.folder), main.parse);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(
      main.doc.errorAt(
        ["domains"],
        error.detail.replace(/^Domain folder/, `folder ${JSON.stringify(main.folder)}`),
        "io",
      ).message,
    );
    return false;
  }
  let ok = true;
  for (const result of results) {
    ok = await report(result.file, () => {
      if (result.error !== undefined) throw result.error;
    }) && ok;
  }
  return ok;
}

/**
 * Runs `burrow check`: resolves to 0 when every file is valid, 1 when one is
 * not, 2 for a usage mistake.
 *
 * @example
 * ```ts
 * import { checkCommand } from "./check.ts";
 * Deno.exitCode = await checkCommand(["conf/server.jsonc", "conf/agent.jsonc"]);
 * ```
 */
export async function checkCommand(args: string[]): Promise<number> {
  return await runWithUsage(async () => {
    let parsed;
    try {
      parsed = parseArgs({
        args,
        options: { strict: { type: "boolean" }, help: { type: "boolean", short: "h" } },
        allowPositionals: true,
        strict: true,
      });
    } catch (error) {
      if (error instanceof TypeError) throw new UsageError(error.message, CHECK_USAGE);
      throw error;
    }
    if (parsed.values.help) {
      console.log(CHECK_USAGE);
      return 0;
    }
    if (parsed.positionals.length === 0) {
      throw new UsageError("No config file given", CHECK_USAGE);
    }
    let ok = true;
    for (const file of parsed.positionals) {
      ok = await checkTree(file, parsed.values.strict === true) && ok;
    }
    return ok ? 0 : 1;
  });
}
