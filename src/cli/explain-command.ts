// `portico explain [--manifests <file|dir>]... [-H 'Name: value']... [-X METHOD] <url>`
// Prints exactly one JSON object. A 404 is an answer (exit 0); unreadable input exits 1.

import type { Command } from 'commander';
import { DEFAULT_CONTROLLER_CLASS, DEFAULT_INGRESS_CLASS, DEFAULT_MAX_ROUTES } from '../compile/compile-options.ts';
import { explainRequest } from '../explain/explain-request.ts';
import { readManifests } from '../standalone/read-manifests.ts';
import { snapshotFromRecords } from '../store/cluster-snapshot.ts';

interface ExplainFlags {
  manifests: string[];
  ingressClass: string;
  controllerClass: string;
  watchIngressWithoutClass: boolean;
  header: string[];
  request: string;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function registerExplainCommand(program: Command): void {
  program
    .command('explain')
    .description('show which Ingress rule, backend and endpoints a request would reach')
    .argument('<url>', 'request URL, e.g. http://hello-world.info/v2')
    .option('--manifests <path>', 'manifest file or directory (repeatable)', collect, [])
    .option('--ingress-class <name>', 'legacy kubernetes.io/ingress.class value we serve', DEFAULT_INGRESS_CLASS)
    .option('--controller-class <name>', 'IngressClass spec.controller we serve', DEFAULT_CONTROLLER_CLASS)
    .option('--watch-ingress-without-class', 'also serve Ingresses with no class', false)
    .option('-H, --header <header>', "request header 'Name: value' (repeatable)", collect, [])
    .option('-X, --request <method>', 'request method', 'GET')
    .action(async (url: string, flags: ExplainFlags) => {
      const headers = new Map<string, string>();
      for (const header of flags.header) {
        const colon = header.indexOf(':');
        if (colon <= 0) throw new Error(`header ${JSON.stringify(header)} is not 'Name: value'`);
        headers.set(header.slice(0, colon).trim().toLowerCase(), header.slice(colon + 1).trim());
      }
      const manifests = await readManifests(flags.manifests);
      const problem = manifests.problems[0];
      if (problem) throw new Error(`${problem.file}: ${problem.message}`);
      const answer = explainRequest(
        snapshotFromRecords(manifests.records),
        {
          controllerClass: flags.controllerClass,
          ingressClass: flags.ingressClass,
          watchIngressWithoutClass: flags.watchIngressWithoutClass,
          maxRoutes: DEFAULT_MAX_ROUTES,
        },
        { method: flags.request, url, headers },
      );
      process.stdout.write(`${JSON.stringify(answer)}\n`);
    });
}
