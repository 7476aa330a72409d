/**
 * `burrow check FILE…`: validates main config files (server or agent, by
 * their `mode`) and every domain file in their `domains` folders (and a
 * server's `agentFiles` and `operatorFiles` folders), without starting anything
 * (frp's `verify`).
 *
 * @module
 */

import { isAbsolute, relative } from "node:path";
import { parseArgs } from "node:util";
import { parseAgentConfig, parseAgentDomain } from "../agent/config.ts";
import { dataDirProblem } from "../server/audit/config.ts";
import { basename, dirname } from "node:path";
import { parseAgentFile } from "../server/access/agent_file.ts";
import { parseOperatorFile } from "../server/access/operator_file.ts";
import { AgentTlsFileError, readAgentTlsFiles } from "../server/agent_tls_files.ts";
import { parseServerConfig, parseServerDomain, serverDomainParser } from "../server/config.ts";
import {
  capitalized,
  type DomainFileResult,
  type EntryNoun,
  readDomainFolder,
} from "../shared/config/domain_folder.ts";
import { ObjectReader, readMode } from "../shared/config/fields.ts";
import { ConfigError, JsoncDocument, readConfigText } from "../shared/config/jsonc.ts";
import { runWithUsage, UsageError } from "./usage.ts";
import { checkAgent } from "./agent_check.ts";
import { AGENT_FLAGS, refuseSecretFlags } from "./agent_flags.ts";
import { configLocationHelp, currentPlace, defaultConfigFile } from "./config_location.ts";

/** Usage text of `burrow check`. */
export const CHECK_USAGE = `Usage: burrow check [--strict] <file>...
       burrow check --agent [--config <file>] [agent flags]

Validate configuration files without starting anything. Each <file> is a main
config (server or agent, told apart by its "mode"), whose "domains" folder is
checked too, read as the server and the agent read it at start (*.jsonc files
and links to them, not those starting with "." or "_"; a missing folder, an
invalid file or two files for one domain fail, as they refuse the start); a
server's "agentFiles" and "operatorFiles" folders are checked the same way. Or <file>
is a single file without "mode": an operator file when its folder is named
operators*.d or it has "token"; an agent identity file when its folder is
named agents*.d; else an agent domain file when it has "targets", a server
domain file otherwise (domain files checked with the built-in defaults, not
those of a main config).
Prints "ok: <file>" for each valid file (a file without "mode" adds what it
was read as: "ok: db1.jsonc (agent identity file)") and
"<file>:<line>:<column>: <key>: <problem>" for each invalid one. A file given
on its own whose name starts with "_" or "." (disabled: never read) prints
"skipped: <file> (...)". Exits 0 when every file is valid, 1 otherwise.

With --agent, shows the settings 'burrow agent' would start with, given the
same flags (--server, --name, --secret-file, --domain, --target,
--domain-secret-file, --ca-file, --insecure, --config; see 'burrow agent
--help') and BURROW_* variables, merged over the same config file (--config,
BURROW_CONFIG, or the default location when a file is there, checked as
above), each with where it came from and every secret masked. Exits 0 when the
agent could start with them.

Options:
  --strict    Also require the files the configs name to exist (TLS
              certificates and keys, agent CA files); the agentCertificates
              CA, certificate and key are also parsed, and the key matched
              to its certificate, as the server does at start
  --agent     Show the agent's merged settings (see above)
  -h, --help  Show this help

${
  configLocationHelp("agent", defaultConfigFile("agent", currentPlace()))
    .replace("Without --config", "With --agent and without --config (or BURROW_CONFIG)")
}`;

/** How a domain file of a checked main file is parsed. */
type DomainParser = (file: string, text: string) => { name: string; file: string };

/** One folder a checked main file names: its key, what its files are, their parser. */
interface CheckedFolder {
  key: string;
  noun: EntryNoun;
  folder: string;
  parse: DomainParser;
}

/** A main file that parsed: its document, the folders it names and (server) its data folder. */
interface CheckedMain {
  doc: JsoncDocument;
  folders: CheckedFolder[];
  dataDir?: string;
}

/** What a file without "mode" is, when checked on its own. */
type FileKind = "server" | "agent" | "agent identity" | "operator";

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
    if (!(error instanceof ConfigError) && !(error instanceof AgentTlsFileError)) throw error;
    console.error(error.message);
    return false;
  }
}

/**
 * Parses the main file `file`; resolves to the folders it names and the
 * parsers of their files, or null when it is invalid (the error is printed).
 */
async function checkMain(
  file: string,
  strict: boolean,
): Promise<CheckedMain | null> {
  let result: CheckedMain | null = null;
  await report(file, async () => {
    const text = await readConfigText(file);
    const doc = JsoncDocument.parse(file, text);
    const options = { checkFiles: strict };
    if (readMode(ObjectReader.root(doc)) === "server") {
      const config = parseServerConfig(file, text, options);
      if (strict && config.agentCertificates !== null) {
        const { ca, cert, key } = config.agentCertificates;
        await readAgentTlsFiles({ ca, cert, key });
      }
      const folders: CheckedFolder[] = [
        {
          key: "domains",
          noun: "domain",
          folder: config.domains,
          parse: serverDomainParser(config),
        },
      ];
      if (config.agentFiles !== null) {
        folders.push({
          key: "agentFiles",
          noun: "agent",
          folder: config.agentFiles,
          parse: parseAgentFile,
        });
      }
      if (config.operatorFiles !== null) {
        const folder = config.operatorFiles;
        folders.push({ key: "operatorFiles", noun: "operator", folder, parse: parseOperatorFile });
      }
      result = { doc, folders, dataDir: config.dataDir };
    } else {
      const config = parseAgentConfig(file, text, options);
      const parse: DomainParser = (f, t) => parseAgentDomain(f, t, options);
      result = {
        doc,
        folders: config.domains === null
          ? []
          : [{ key: "domains", noun: "domain", folder: config.domains, parse }],
      };
    }
  });
  return result;
}

/**
 * The kind of file `file` is when it has no `mode` (see the usage text), or
 * null for a main file or one that cannot be read or parsed ({@link checkMain}
 * reports those).
 */
async function fileKind(file: string): Promise<FileKind | null> {
  try {
    const r = ObjectReader.root(JsoncDocument.parse(file, await readConfigText(file)));
    if (r.has("mode")) return null;
    const folder = basename(dirname(file)).toLowerCase();
    if (/^operators(\..*)?\.d$/.test(folder) || r.has("token")) return "operator";
    if (/^agents(\..*)?\.d$/.test(folder)) return "agent identity";
    return r.has("targets") ? "agent" : "server";
  } catch {
    return null;
  }
}

/** Checks a file on its own (domain files with the built-in defaults); resolves to whether it was valid. */
async function checkFile(file: string, kind: FileKind, strict: boolean) {
  return await report(file, async () => {
    const text = await readConfigText(file);
    if (kind === "agent") parseAgentDomain(file, text, { checkFiles: strict });
    else if (kind === "server") parseServerDomain(file, text);
    else if (kind === "agent identity") parseAgentFile(file, text);
    else parseOperatorFile(file, text);
  }, kind === "server" || kind === "agent" ? ` (${kind} domain file)` : ` (${kind} file)`);
}

/** Checks the files of one folder a main file names; resolves to whether all were valid. */
async function checkFolder(doc: JsoncDocument, checked: CheckedFolder): Promise<boolean> {
  let results: DomainFileResult<unknown>[];
  try {
    // The same reading of the folder as the server's and the agent's at start.
    results = await readDomainFolder(display(checked.folder), checked.parse, checked.noun);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    const what = `folder ${JSON.stringify(checked.folder)}`;
    const detail = error.detail.replace(`${capitalized(checked.noun)} folder`, what);
    console.error(doc.errorAt([checked.key], detail, "io").message);
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

/** Checks one main file and the files of its folders, or one file; resolves to whether all were valid. */
async function checkTree(file: string, strict: boolean): Promise<boolean> {
  const kind = await fileKind(file);
  const base = basename(file);
  if (kind !== null && /^[._]/.test(base)) {
    // The folder readers skip it; checking it under another name would name the wrong file.
    console.log(
      `skipped: ${file} (disabled: files whose name starts with "_" or "." are not read; ` +
        `rename it to ${base.replace(/^[._]+/, "")} to use it)`,
    );
    return true;
  }
  if (kind !== null) return await checkFile(file, kind, strict);
  const main = await checkMain(file, strict);
  if (main === null) return false;
  const dataProblem = main.dataDir === undefined ? null : dataDirProblem(main.dataDir);
  if (dataProblem !== null) {
    const detail = `folder ${JSON.stringify(main.dataDir)} ${dataProblem}`;
    console.error(main.doc.errorAt(["dataDir"], detail, "io").message);
    return false;
  }
  let ok = true;
  for (const folder of main.folders) ok = await checkFolder(main.doc, folder) && ok;
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
    refuseSecretFlags(args, CHECK_USAGE);
    let parsed;
    try {
      parsed = parseArgs({
        args,
        options: {
          ...AGENT_FLAGS,
          agent: { type: "boolean" },
          config: { type: "string" },
          strict: { type: "boolean" },
          help: { type: "boolean", short: "h" },
        },
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
    const { agent, config, strict: _, help: __, ...agentFlags } = parsed.values;
    if (agent === true) {
      if (parsed.positionals.length > 0) {
        throw new UsageError("--agent takes no file: name it with --config", CHECK_USAGE);
      }
      const strict = parsed.values.strict === true;
      return await checkAgent(config, agentFlags, {
        usage: CHECK_USAGE,
        checkFile: (file) => checkTree(file, strict),
      });
    }
    const misplaced = config !== undefined ? "config" : Object.keys(agentFlags)[0];
    if (misplaced !== undefined) {
      throw new UsageError(`--${misplaced} is used only with --agent`, CHECK_USAGE);
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
