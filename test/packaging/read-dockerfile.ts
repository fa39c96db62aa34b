// Reads the repository's Dockerfile into stages and instructions, enough to check it without a
// Docker engine: line continuations, comments, build ARGs declared before the first FROM
// (substituted into FROM lines), exec-form (JSON) ENTRYPOINT and CMD. Not a full parser: it
// throws on what it does not understand, so a new construct fails the tests loudly.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const DOCKERFILE_PATH = fileURLToPath(new URL('../../Dockerfile', import.meta.url));
export const DOCKERIGNORE_PATH = fileURLToPath(new URL('../../.dockerignore', import.meta.url));

export interface Instruction {
  /** upper case, e.g. RUN */
  readonly keyword: string;
  /** the rest of the instruction, continuations joined with a space */
  readonly value: string;
}

export interface Stage {
  /** FROM's image after ARG substitution, e.g. node:24.20.0-trixie-slim */
  readonly image: string;
  /** `AS name`, if any */
  readonly name: string | undefined;
  readonly instructions: readonly Instruction[];
}

export interface Dockerfile {
  /** ARGs declared before the first FROM, with their defaults */
  readonly globalArgs: ReadonlyMap<string, string>;
  readonly stages: readonly Stage[];
}

function logicalLines(text: string): string[] {
  const lines: string[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    // Comment lines (parser directives included) are dropped, even inside a continuation.
    if (/^\s*#/.test(line)) continue;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1).trim()} `;
      continue;
    }
    const joined = (pending + line.trim()).trim();
    pending = '';
    if (joined !== '') lines.push(joined);
  }
  if (pending.trim() !== '') lines.push(pending.trim());
  return lines;
}

function substitute(text: string, args: ReadonlyMap<string, string>): string {
  return text.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, braced: string | undefined, bare: string | undefined) => {
    const name = braced ?? bare ?? '';
    const value = args.get(name);
    if (value === undefined) throw new Error(`Dockerfile: $${name} is not a global ARG with a default`);
    return value;
  });
}

export function parseDockerfile(text: string): Dockerfile {
  const globalArgs = new Map<string, string>();
  const stages: { image: string; name: string | undefined; instructions: Instruction[] }[] = [];
  for (const line of logicalLines(text)) {
    const match = /^(\w+)\s*(.*)$/.exec(line);
    if (!match) throw new Error(`Dockerfile: cannot read line ${JSON.stringify(line)}`);
    const keyword = (match[1] ?? '').toUpperCase();
    const value = match[2] ?? '';
    if (keyword === 'FROM') {
      const from = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(value);
      if (!from) throw new Error(`Dockerfile: cannot read FROM ${value}`);
      stages.push({ image: substitute(from[1] ?? '', globalArgs), name: from[2], instructions: [] });
      continue;
    }
    const stage = stages.at(-1);
    if (stage === undefined) {
      if (keyword !== 'ARG') throw new Error(`Dockerfile: ${keyword} before the first FROM`);
      const arg = /^(\w+)=(\S+)$/.exec(value);
      if (!arg) throw new Error(`Dockerfile: a global ARG needs a default: ARG ${value}`);
      globalArgs.set(arg[1] ?? '', arg[2] ?? '');
      continue;
    }
    stage.instructions.push({ keyword, value });
  }
  return { globalArgs, stages };
}

export function readDockerfile(path = DOCKERFILE_PATH): Dockerfile {
  return parseDockerfile(readFileSync(path, 'utf8'));
}

/** The JSON array of an exec-form ENTRYPOINT/CMD; throws on shell form. */
export function execForm(instruction: Instruction | undefined): string[] {
  if (instruction === undefined) throw new Error('instruction missing');
  const parsed: unknown = JSON.parse(instruction.value);
  if (!Array.isArray(parsed) || !parsed.every((part) => typeof part === 'string')) {
    throw new Error(`${instruction.keyword} is not in exec form: ${instruction.value}`);
  }
  return parsed as string[];
}

/** The last instruction with this keyword in the stage (the one Docker uses). */
export function lastInstruction(stage: Stage, keyword: string): Instruction | undefined {
  return stage.instructions.filter((instruction) => instruction.keyword === keyword).at(-1);
}

/** The image Portico runs: the final stage's ENTRYPOINT followed by its CMD. */
/** The node flags of the image's ENTRYPOINT (`node <flags> dist/cli.js`): benchmarks run Portico with them. */
export function imageNodeFlags(dockerfile: Dockerfile = readDockerfile()): string[] {
  return imageCommand(dockerfile).entrypoint.slice(1, -1);
}

export function imageCommand(dockerfile: Dockerfile): { entrypoint: string[]; cmd: string[] } {
  const runtime = dockerfile.stages.at(-1);
  if (runtime === undefined) throw new Error('Dockerfile has no stage');
  return {
    entrypoint: execForm(lastInstruction(runtime, 'ENTRYPOINT')),
    cmd: execForm(lastInstruction(runtime, 'CMD')),
  };
}
