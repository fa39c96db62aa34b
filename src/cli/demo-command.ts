// `portico demo` (what `npm start` runs): backends, manifests and Portico in one process.
// Listener flags are serve's; the demo binds to loopback by default.

import { rm } from 'node:fs/promises';
import type { Command } from 'commander';
import { buildConfig, DEFAULT_DEMO_BACKEND_PORT, DEMO_BIND_ADDRESS, parsePortFlag } from '../config/config.ts';
import { addListenerOptions, type ConfigFlags, configInputFromFlags } from '../config/config-flags.ts';
import { exitTwoOnUsageError, exitWithProblems, failStart } from './serve-command.ts';

interface DemoFlags extends ConfigFlags {
  backendPort?: string;
}

export function registerDemoCommand(program: Command): void {
  const command = program
    .command('demo')
    .description('run the Ingress tutorial locally: two demo backends and Portico in front of them');
  addListenerOptions(command, DEMO_BIND_ADDRESS);
  command.option(
    '--backend-port <port>',
    'port the demo backends listen on, each on its own 127.0.0.x address (0: any free port)',
    String(DEFAULT_DEMO_BACKEND_PORT),
  );
  exitTwoOnUsageError(command);
  command.action(async (flags: DemoFlags) => {
    // Loaded on use so other commands do not pay for the server's imports.
    const { stopOnSignals } = await import('../main.ts');
    const { demoBanner, makeDemoManifestDir, runDemo } = await import('../standalone/demo/run-demo.ts');
    const problems: string[] = [];
    const backendPort = parsePortFlag('--backend-port', flags.backendPort, DEFAULT_DEMO_BACKEND_PORT, problems);
    const manifestDir = await makeDemoManifestDir();
    // One process, and Ctrl-C stops at once: nothing balances load onto a demo on one's own machine.
    const result = buildConfig({
      ...configInputFromFlags(flags),
      manifests: [manifestDir],
      shutdownGracePeriod: '0',
      workers: '1',
    });
    if (!result.ok || problems.length > 0) {
      await rm(manifestDir, { recursive: true, force: true });
      exitWithProblems([...problems, ...(result.ok ? [] : result.problems)]);
    }
    const demo = await runDemo(result.config, backendPort).catch(failStart);
    // Log lines of the start first, then the banner, so the curl lines are the last thing shown.
    demo.flushLogs();
    process.stdout.write(demoBanner(demo));
    stopOnSignals(demo.portico, demo.cleanUp);
  });
}
