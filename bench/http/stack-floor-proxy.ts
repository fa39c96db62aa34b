// Contestant (e): the floor of Portico's own stack. A node:http server forwarding every
// request through an undici Pool with the least a reverse proxy must do (hop-by-hop fields
// out, X-Forwarded-For / X-Real-IP / X-Forwarded-Proto in, bodies streamed both ways) and
// nothing else: no routing table, no endpoint picking, no retries, no timeouts of its own, no
// metrics, no access log. Portico cannot be cheaper than this without leaving node:http or
// undici, so its figures say how much of the gap to nginx belongs to the stack, and how much
// to Portico. Run as its own process by run-bench.ts:
//   node bench/http/stack-floor-proxy.ts <listen-host> <listen-port> <upstream-origin>

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { Pool } from 'undici';

const [host = '127.0.0.1', port = '0', upstream] = process.argv.slice(2);
if (upstream === undefined) {
  console.error('usage: node bench/http/stack-floor-proxy.ts <listen-host> <listen-port> <upstream-origin>');
  process.exit(2);
}

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);
const pool = new Pool(upstream, { connections: 64 });

function forward(req: IncomingMessage, res: ServerResponse): void {
  const headers: string[] = [];
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (!HOP_BY_HOP.has(name.toLowerCase())) headers.push(name, raw[i + 1] as string);
  }
  const clientIp = req.socket.remoteAddress ?? '';
  headers.push('x-forwarded-for', clientIp, 'x-real-ip', clientIp, 'x-forwarded-proto', 'http');
  const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
  pool.dispatch(
    { path: req.url ?? '/', method: req.method as 'GET', headers, body: hasBody ? req : null },
    {
      onRequestStart(controller) {
        // A client that goes away mid-response (wrk closing its connections at the end of a run)
        // must free the upstream connection: a paused response would hold it for good.
        res.once('close', () => {
          if (!res.writableFinished) controller.abort(new Error('client went away'));
        });
      },
      onResponseStart(controller, statusCode) {
        const out: string[] = [];
        // The backend speaks HTTP/1.1: raw header lines, case and order kept.
        const rawOut = controller.rawHeaders as readonly (Buffer | string)[];
        for (let i = 0; i < rawOut.length; i += 2) {
          const name = String(rawOut[i]);
          if (!HOP_BY_HOP.has(name.toLowerCase())) out.push(name, String(rawOut[i + 1]));
        }
        res.writeHead(statusCode, out);
      },
      onResponseData(controller, chunk) {
        if (!res.write(chunk)) {
          controller.pause();
          res.once('drain', () => controller.resume());
        }
      },
      onResponseEnd() {
        res.end();
      },
      onResponseError(_controller, error) {
        if (!res.destroyed) console.error(`upstream error: ${error.message}`);
        if (res.headersSent) res.destroy(error);
        else res.writeHead(502, { 'content-type': 'text/plain' }).end('bad gateway\n');
      },
    },
  );
}

const server = createServer(forward);
server.keepAliveTimeout = 60_000;
server.listen(Number(port), host);

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    server.close();
    void pool.close().finally(() => process.exit(0));
  });
}
