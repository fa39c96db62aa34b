// What can be checked about the image without a Docker engine (none runs here): pinned base
// images, stages, a non-root user, production dependencies only, an exec-form entrypoint that
// matches package.json's bin and the chart, and a .dockerignore that lets in exactly what the
// COPY lines need. runtime-stage.test.ts runs the stages' commands themselves.

import assert from 'node:assert/strict';
import { existsSync, globSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { DEFAULT_ADMIN_PORT, DEFAULT_HTTP_PORT, DEFAULT_HTTPS_PORT } from '../../src/config/config.ts';
import {
  DOCKERIGNORE_PATH,
  execForm,
  imageCommand,
  imageNodeFlags,
  lastInstruction,
  readDockerfile,
  type Stage,
} from './read-dockerfile.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const dockerfile = readDockerfile();
const runtime = dockerfile.stages.at(-1) as Stage;

function packageJson(): { bin: Record<string, string>; scripts: Record<string, string> } {
  return JSON.parse(readFileSync(`${REPO}package.json`, 'utf8')) as ReturnType<typeof packageJson>;
}

function runs(stage: Stage): string[] {
  return stage.instructions.filter((instruction) => instruction.keyword === 'RUN').map(({ value }) => value);
}

/** COPY --from=<stage> <source> <dest> of the runtime stage, as [stage, source] pairs. */
function copiedFromStages(stage: Stage): [string, string][] {
  return stage.instructions
    .filter((instruction) => instruction.keyword === 'COPY')
    .flatMap(({ value }) => {
      const match = /^--from=(\S+)\s+(\S+)\s+\S+$/.exec(value);
      return match ? [[match[1] ?? '', match[2] ?? ''] as [string, string]] : [];
    });
}

function stageNamed(name: string): Stage {
  const stage = dockerfile.stages.find((candidate) => candidate.name === name);
  assert.ok(stage, `a stage named ${name}`);
  return stage;
}

describe('Dockerfile', () => {
  it('builds in stages and runs on a slim Node image, every base pinned to one exact Node 24 release', () => {
    assert.ok(dockerfile.stages.length >= 2, 'multi-stage');
    const nvmrcMajor = readFileSync(`${REPO}.nvmrc`, 'utf8').trim();
    const versions = new Set<string>();
    for (const stage of dockerfile.stages) {
      const match = /^node:(\d+)\.(\d+)\.(\d+)-([a-z]+)(-slim)?$/.exec(stage.image);
      assert.ok(match, `${stage.image}: a node image pinned to major.minor.patch and a Debian release`);
      assert.equal(match[1], nvmrcMajor, `${stage.image}: Node ${nvmrcMajor}, as .nvmrc`);
      versions.add(`${match[1]}.${match[2]}.${match[3]}-${match[4]}`);
    }
    assert.equal(versions.size, 1, `one Node release and Debian release in every stage: ${[...versions].join(', ')}`);
    assert.match(runtime.image, /-slim$/, 'the runtime stage is a slim image');
    assert.equal(runtime.name, undefined, 'the runtime stage is the last, unnamed one');
  });

  it('runs as a numeric non-root user, so Kubernetes can enforce runAsNonRoot', () => {
    const user = lastInstruction(runtime, 'USER')?.value;
    assert.ok(user, 'the runtime stage sets USER');
    const match = /^(\d+)(?::(\d+))?$/.exec(user);
    assert.ok(match, `USER ${user} is numeric (uid[:gid])`);
    assert.notEqual(Number(match[1]), 0, 'not root');
    if (match[2] !== undefined) assert.notEqual(Number(match[2]), 0, 'not the root group');
    const values = parse(readFileSync(`${REPO}charts/portico/values.yaml`, 'utf8')) as {
      podSecurityContext: { runAsUser: number; runAsGroup: number; runAsNonRoot: boolean };
    };
    assert.equal(values.podSecurityContext.runAsUser, Number(match[1]), "the chart's runAsUser is the image's user");
    assert.equal(values.podSecurityContext.runAsGroup, Number(match[2] ?? match[1]));
    assert.equal(values.podSecurityContext.runAsNonRoot, true);
  });

  it('ships production dependencies only, compiled JavaScript, and no build step at runtime', () => {
    assert.deepEqual(runs(runtime), [], 'the runtime stage runs nothing: no shell needed, no packages added');
    const copies = copiedFromStages(runtime);
    const modules = copies.find(([, source]) => source === '/app/node_modules');
    assert.ok(modules, 'node_modules comes from another stage');
    assert.ok(
      runs(stageNamed(modules[0])).some((command) => /^npm ci\b.*--omit=dev\b/.test(command)),
      `stage ${modules[0]} installs with npm ci --omit=dev`,
    );
    const dist = copies.find(([, source]) => source === '/app/dist');
    assert.ok(dist, 'dist/ comes from another stage');
    const buildRuns = runs(stageNamed(dist[0]));
    assert.ok(
      buildRuns.some((command) => /^npm ci\b/.test(command)),
      `stage ${dist[0]} installs with npm ci (lockfile)`,
    );
    assert.ok(buildRuns.includes('npm run build'), `stage ${dist[0]} runs npm run build`);
    assert.match(packageJson().scripts.build ?? '', /^tsc -p tsconfig\.build\.json$/);
    assert.match(lastInstruction(runtime, 'ENV')?.value ?? '', /NODE_ENV=production/, 'NODE_ENV=production at runtime');
  });

  it('starts `node dist/cli.js serve` in exec form: node is PID 1 and gets SIGTERM itself', () => {
    const { entrypoint, cmd } = imageCommand(dockerfile);
    assert.deepEqual(entrypoint, ['node', ...imageNodeFlags(dockerfile), packageJson().bin.portico]);
    assert.ok(
      imageNodeFlags(dockerfile).every((flag) => flag.startsWith('--')),
      'only node flags between node and the script',
    );
    assert.equal(packageJson().bin.portico, 'dist/cli.js');
    assert.deepEqual(cmd, ['serve']);
    // The chart passes args only (the image's ENTRYPOINT stays); its first arg is the subcommand.
    const deployment = readFileSync(`${REPO}charts/portico/templates/deployment.yaml`, 'utf8');
    assert.doesNotMatch(deployment, /^\s+command:/m, 'the chart keeps the image ENTRYPOINT');
    assert.match(deployment, /^\s+args:\n\s+- serve\n/m, 'the chart args start with serve, like CMD');
    // The signal handlers that make PID 1 drain on SIGTERM (a PID 1 without handlers ignores it).
    const main = readFileSync(`${REPO}src/main.ts`, 'utf8');
    assert.match(main, /process\.on\('SIGTERM'/);
    for (const file of globSync('src/**/*.ts', { cwd: REPO })) {
      assert.doesNotMatch(readFileSync(`${REPO}${file}`, 'utf8'), /child_process/, `${file}: no children to reap`);
    }
  });

  it("exposes the ports Portico listens on by default, which are the chart's container ports", () => {
    const exposed = (lastInstruction(runtime, 'EXPOSE')?.value ?? '').split(/\s+/).map(Number);
    const values = parse(readFileSync(`${REPO}charts/portico/values.yaml`, 'utf8')) as {
      containerPorts: { http: number; https: number; admin: number };
    };
    const { http, https, admin } = values.containerPorts;
    assert.deepEqual(exposed, [http, https, admin]);
    assert.equal(http, DEFAULT_HTTP_PORT);
    assert.equal(https, DEFAULT_HTTPS_PORT);
    assert.equal(admin, DEFAULT_ADMIN_PORT);
  });

  it('.dockerignore lets in exactly what the COPY lines take from the build context', () => {
    const lines = readFileSync(DOCKERIGNORE_PATH, 'utf8')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '' && !line.startsWith('#'));
    assert.equal(lines[0], '*', 'everything is excluded first (node_modules, dist, .git, ...)');
    const included = lines.slice(1).map((line) => {
      assert.match(line, /^![\w.-]+$/, `only re-includes of top-level names follow: ${line}`);
      return line.slice(1);
    });
    const fromContext = dockerfile.stages.flatMap((stage) =>
      stage.instructions
        .filter(({ keyword, value }) => keyword === 'COPY' && !value.startsWith('--from='))
        .flatMap(({ value }) => value.split(/\s+/).slice(0, -1))
        .map((source) => source.replace(/\/$/, '')),
    );
    assert.deepEqual([...new Set(fromContext)].sort(), [...included].sort());
    for (const source of included) assert.ok(existsSync(`${REPO}${source}`), `${source} exists`);
  });

  it("the chart's default image tag is this package's version, the tag README's walkthrough builds", () => {
    const { version } = JSON.parse(readFileSync(`${REPO}package.json`, 'utf8')) as { version: string };
    const chart = parse(readFileSync(`${REPO}charts/portico/Chart.yaml`, 'utf8')) as { appVersion: string };
    assert.equal(chart.appVersion, version);
    const readme = readFileSync(`${REPO}README.md`, 'utf8');
    const built = [...readme.matchAll(/(?:minikube image build|docker build) -t \S*?portico:(\S+) \./g)];
    assert.ok(built.length > 0, 'README shows the image build');
    for (const match of built) assert.equal(match[1], version, match[0]);
  });

  it('every exec-form instruction parses (no shell-form ENTRYPOINT or CMD sneaks in)', () => {
    for (const stage of dockerfile.stages) {
      for (const keyword of ['ENTRYPOINT', 'CMD']) {
        const instruction = lastInstruction(stage, keyword);
        if (instruction !== undefined) assert.doesNotThrow(() => execForm(instruction));
      }
    }
  });
});
