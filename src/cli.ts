#!/usr/bin/env node
// Command-line entry: `portico explain`, `portico serve`, `portico demo`.

import { Command } from 'commander';
import { registerDemoCommand } from './cli/demo-command.ts';
import { registerExplainCommand } from './cli/explain-command.ts';
import { registerServeCommand } from './cli/serve-command.ts';

const program = new Command();
program.name('portico').description('Portico: a Kubernetes Ingress controller').showHelpAfterError();
registerExplainCommand(program);
registerServeCommand(program);
registerDemoCommand(program);

program.parseAsync(process.argv).catch((error: unknown) => {
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`portico: ${message}\n`);
  process.exit(1);
});
