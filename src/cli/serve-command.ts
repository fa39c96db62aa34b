// `portico serve`: cluster mode, or standalone mode with `--manifests <file|dir>...`. Usage and config problems print
// one line each on stderr and exit 2; a failure to start (port in use...) exits 1.

import cluster from 'node:cluster';
import type { Command } from 'commander';
import { buildConfig, type Config, type ConfigInput } from '../config/config.ts';
import {
  addClassOptions,
  addClientAddressOptions,
  addClusterOptions,
  addLifecycleOptions,
  addListenerOptions,
  addManifestOption,
  addTlsOptions,
  type ConfigFlags,
  configInputFromFlags,
} from '../config/config-flags.ts';

export const EXIT_USAGE = 2;
export const EXIT_START_FAILED = 1;

/** Commander's own usage errors (unknown flag, missing value) exit 2 like ours; help exits 0. */
export function exitTwoOnUsageError(command: Command): Command {
  return command.exitOverride((error) => {
    process.exit(error.exitCode === 0 ? 0 : EXIT_USAGE);
  });
}

export function exitWithProblems(problems: readonly string[]): never {
  for (const problem of problems) process.stderr.write(`portico: ${problem}\n`);
  process.exit(EXIT_USAGE);
}

export function configOrExit(input: ConfigInput): Config {
  const result = buildConfig(input);
  if (result.ok) return result.config;
  exitWithProblems(result.problems);
}

export function failStart(error: unknown): never {
  process.stderr.write(`portico: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(EXIT_START_FAILED);
}

export function registerServeCommand(program: Command): void {
  const command = program
    .command('serve')
    .description(
      'serve Ingresses from the cluster (default) or from manifest files (--manifests), applying changes live',
    )
    .addHelpText(
      'after',
      '\nExamples:\n  portico serve                                    # in a cluster\n  portico serve --kubeconfig ~/.kube/config        # against a cluster, from outside\n  portico serve --manifests ./manifests            # standalone, no cluster\n',
    );
  addManifestOption(command);
  addListenerOptions(command);
  addTlsOptions(command);
  addClientAddressOptions(command);
  addClassOptions(command);
  addClusterOptions(command);
  addLifecycleOptions(command);
  exitTwoOnUsageError(command);
  command.action(async (flags: ConfigFlags) => {
    const config = configOrExit(configInputFromFlags(flags));
    // node:cluster runs this same command in each worker: it serves what the primary sends.
    if (cluster.isWorker) {
      await (await import('../workers/worker-process.ts')).runWorker(config);
      return;
    }
    // Loaded here, not at the top, so `portico explain` does not pay for the server's imports.
    const { startPortico, stopOnSignals } = await import('../main.ts');
    // Start waits for the first full list, which can take long (API server unreachable, RBAC
    // denying a list). A signal then must not be ignored: nothing is proxied yet (the proxy
    // listener opens after the first table), so exiting at once loses nothing.
    const exitWhileStarting = (signal: NodeJS.Signals): void => {
      process.stderr.write(`portico: ${signal} while starting; exiting\n`);
      process.exit(0);
    };
    process.on('SIGTERM', exitWhileStarting);
    process.on('SIGINT', exitWhileStarting);
    const portico =
      config.workers > 1
        ? await (await import('../workers/primary-process.ts')).runPrimary(config).catch(failStart)
        : await startPortico(config).catch(failStart);
    process.off('SIGTERM', exitWhileStarting);
    process.off('SIGINT', exitWhileStarting);
    stopOnSignals(portico);
  });
}
