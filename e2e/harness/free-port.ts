// A TCP port that is free right now on a loopback address. Another process may
// still take it before ours binds; etcd and kube-apiserver need a concrete port
// in their flags (they cannot report back an ephemeral one), so that small race
// is accepted and shows up as a clear "address already in use" in their log.
import { createServer } from 'node:net';

export function findFreePort(host: string = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host, port: 0, exclusive: true }, () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error(`could not read the port bound on ${host}`));
        return;
      }
      server.close(() => resolve(address.port));
    });
  });
}
