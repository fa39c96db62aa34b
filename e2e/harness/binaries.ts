// Where the real kube-apiserver, etcd, kubectl and helm binaries live.
// e2e/run.ts builds them and exports PORTICO_E2E_BIN; a test file run on its
// own (`node --test e2e/x.test.ts`) asks the build script, which is a no-op
// once the binaries are cached.
import { execFileSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export type BinaryName = 'kube-apiserver' | 'etcd' | 'kubectl' | 'helm';

export const BIN_DIR_ENV = 'PORTICO_E2E_BIN';
export const BUILD_SCRIPT_PATH = fileURLToPath(new URL('../provision/build-binaries.sh', import.meta.url));

let resolved: string | undefined;

export function resolveBinaryDirectory(): string {
  if (resolved !== undefined) return resolved;
  const fromEnv = process.env[BIN_DIR_ENV];
  if (fromEnv !== undefined && fromEnv !== '') {
    resolved = fromEnv;
    return resolved;
  }
  const stdout = execFileSync('bash', [BUILD_SCRIPT_PATH], {
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
  });
  const directory = stdout.trim().split('\n').at(-1);
  if (directory === undefined || directory === '') {
    throw new Error(`${BUILD_SCRIPT_PATH} printed no binary directory`);
  }
  resolved = directory;
  return resolved;
}

export function binaryPath(name: BinaryName, directory: string = resolveBinaryDirectory()): string {
  const path = join(directory, name);
  try {
    accessSync(path, constants.X_OK);
  } catch {
    throw new Error(`${path} is missing or not executable; run bash ${BUILD_SCRIPT_PATH}`);
  }
  return path;
}
