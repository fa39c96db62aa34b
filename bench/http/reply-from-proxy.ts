// Contestant (c): the nearest Node peer, a minimal Fastify server forwarding every request
// with @fastify/reply-from (undici underneath, its default pool of keep-alive connections).
// Run as its own process by run-bench.ts:
//   node bench/http/reply-from-proxy.ts <listen-host> <listen-port> <upstream-origin>

import replyFrom from '@fastify/reply-from';
import Fastify from 'fastify';

const [host = '127.0.0.1', port = '0', upstream] = process.argv.slice(2);
if (upstream === undefined) {
  console.error('usage: node bench/http/reply-from-proxy.ts <listen-host> <listen-port> <upstream-origin>');
  process.exit(2);
}

const app = Fastify({ logger: false });
await app.register(replyFrom, { base: upstream });
app.all('/*', (request, reply) => reply.from(request.url));
await app.listen({ host, port: Number(port) });

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    void app.close().finally(() => process.exit(0));
  });
}
