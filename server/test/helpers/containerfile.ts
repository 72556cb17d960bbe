/**
 * A reader of the Containerfile subset deploy/Containerfile uses, for the tests that check it
 * without Docker: stages, instructions, COPY sources and destinations, exec-form arguments.
 * Continuation lines (`\` at the end) are joined and comment lines dropped, as the builders do.
 */
import * as assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";

/** One instruction, e.g. `COPY` with its argument text. */
export interface Instruction {
  /** Upper-case keyword: FROM, COPY, RUN, ... */
  readonly keyword: string;
  /** The rest of the (joined) line. */
  readonly args: string;
  /** 1-based line where it starts. */
  readonly line: number;
}

/** A build stage: its base image (ARGs substituted), its name, its instructions after FROM. */
export interface Stage {
  readonly image: string;
  readonly name: string | undefined;
  readonly instructions: readonly Instruction[];
}

/** A parsed COPY. */
export interface Copy {
  /** The stage copied from (`--from=`), or undefined for the build context. */
  readonly from: string | undefined;
  readonly sources: readonly string[];
  readonly destination: string;
  readonly line: number;
}

/** Instructions of the whole file, grouped by stage. */
export interface Containerfile {
  /** ARGs declared before the first FROM, with their defaults. */
  readonly globalArgs: ReadonlyMap<string, string>;
  readonly stages: readonly Stage[];
}

function substitute(text: string, args: ReadonlyMap<string, string>): string {
  return text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (whole, braced?: string, bare?: string) => {
    const name = braced ?? bare ?? "";
    const value = args.get(name);
    assert.ok(value !== undefined, `undefined build argument ${whole}`);
    return value;
  });
}

/** Parses a Containerfile's text. */
export function parseContainerfile(text: string): Containerfile {
  const instructions: Instruction[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let line = lines[i] ?? "";
    if (/^\s*(#|$)/.test(line)) continue;
    while (/\\\s*$/.test(line) && i + 1 < lines.length) {
      i++;
      const next = lines[i] ?? "";
      if (/^\s*#/.test(next)) continue;
      line = `${line.replace(/\\\s*$/, "")} ${next.trim()}`;
    }
    const match = /^\s*([A-Za-z]+)\s+(.*)$/.exec(line);
    assert.ok(match !== null, `line ${start + 1}: not an instruction: ${line}`);
    instructions.push({ keyword: (match[1] ?? "").toUpperCase(), args: (match[2] ?? "").trim(), line: start + 1 });
  }
  const globalArgs = new Map<string, string>();
  const stages: { image: string; name: string | undefined; instructions: Instruction[] }[] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === "FROM") {
      const [image, as, name] = instruction.args.split(/\s+/);
      assert.ok(image !== undefined, `line ${instruction.line}: FROM without an image`);
      stages.push({ image: substitute(image, globalArgs), name: as?.toUpperCase() === "AS" ? name : undefined, instructions: [] });
    } else if (stages.length === 0) {
      assert.equal(instruction.keyword, "ARG", `line ${instruction.line}: only ARG may precede the first FROM`);
      const [name, value] = instruction.args.split("=", 2);
      globalArgs.set(name ?? "", value ?? "");
    } else {
      stages[stages.length - 1]?.instructions.push(instruction);
    }
  }
  return { globalArgs, stages };
}

/** Reads and parses the Containerfile at `file`. */
export function readContainerfile(file: string): Containerfile {
  return parseContainerfile(readFileSync(file, "utf8"));
}

/** The instructions of `stage` with `keyword`. */
export function instructionsOf(stage: Stage, keyword: string): Instruction[] {
  return stage.instructions.filter((instruction) => instruction.keyword === keyword);
}

/** The exec-form (JSON array) arguments of an instruction such as CMD or ENTRYPOINT. */
export function execForm(args: string): string[] {
  const parsed = JSON.parse(args) as unknown;
  assert.ok(Array.isArray(parsed) && parsed.every((item) => typeof item === "string"), `not an exec-form array: ${args}`);
  return parsed as string[];
}

/** The COPY instructions of `stage`, with their options split off. */
export function copiesOf(stage: Stage): Copy[] {
  return instructionsOf(stage, "COPY").map((instruction) => {
    const words = instruction.args.startsWith("[") ? execForm(instruction.args) : instruction.args.split(/\s+/);
    let from: string | undefined;
    const operands: string[] = [];
    for (const word of words) {
      if (word.startsWith("--from=")) from = word.slice("--from=".length);
      else if (!word.startsWith("--")) operands.push(word);
    }
    const destination = operands.pop();
    assert.ok(destination !== undefined && operands.length > 0, `line ${instruction.line}: COPY needs a source and a destination`);
    return { from, sources: operands, destination, line: instruction.line };
  });
}

/** The stage's working directory after all its WORKDIR instructions (absolute). */
export function workdirOf(stage: Stage): string {
  let workdir = "/";
  for (const instruction of instructionsOf(stage, "WORKDIR")) workdir = path.posix.resolve(workdir, instruction.args);
  return workdir;
}

/**
 * Where a COPY puts `source` in the image: a directory's contents go into the destination; a file
 * goes into a destination that ends with `/`, or else becomes the destination.
 * @param isDirectory - whether the source is a directory (the caller knows where it lives).
 */
export function copiedTo(copy: Copy, source: string, isDirectory: boolean, workdir: string): string {
  const destination = path.posix.resolve(workdir, copy.destination);
  if (isDirectory || !copy.destination.endsWith("/")) return destination;
  return path.posix.join(destination, path.posix.basename(source));
}
