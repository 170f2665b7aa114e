import getPort from 'get-port';

/**
 * A TCP port that is free on 127.0.0.1 right now (the `get-port` library: listen on port 0, read
 * the port, close). Shared by the root scripts and benchmarks that start loopback servers.
 * @returns {Promise<number>}
 */
export function freePort() {
  return getPort({ host: '127.0.0.1' });
}
