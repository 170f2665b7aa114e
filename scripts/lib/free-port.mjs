import { createServer } from 'node:net';

/**
 * A TCP port that is free on 127.0.0.1 right now (the kernel picks it: listen on port 0, read
 * the port, close). Shared by the root scripts and benchmarks that start loopback servers.
 * @returns {Promise<number>}
 */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}
