/**
 * Starts Tollgate's HTTP listener for the conformance run and the benchmark:
 *   node --conditions=@tollgate/source --import tsx launch-listener.ts [--deny TOOL]... (--upstream URL | -- CMD ARGS...)
 * Prints one JSON line `{"url": "..."}` on stdout once listening; logs go to stderr; SIGTERM
 * closes every session and exits 0.
 */
import { runHttpListener } from '../../src/http/listener.js';
import { RecordingGate } from './helpers.js';

const argv = process.argv.slice(2);
const dash = argv.indexOf('--');
const own = dash === -1 ? argv : argv.slice(0, dash);
const cmd = dash === -1 ? [] : argv.slice(dash + 1);
const deny = new Set<string>();
let upstreamUrl: string | undefined;
for (let i = 0; i < own.length; i++) {
  if (own[i] === '--upstream') upstreamUrl = own[++i];
  else if (own[i] === '--deny') deny.add(own[++i]!);
  else {
    process.stderr.write(`launch-listener: unknown argument ${own[i]}\n`);
    process.exit(2);
  }
}
if (!upstreamUrl && cmd.length === 0) {
  process.stderr.write('launch-listener: need --upstream URL or -- CMD\n');
  process.exit(2);
}
const listener = await runHttpListener({
  gate: new RecordingGate(deny),
  upstream: upstreamUrl
    ? { kind: 'http', url: upstreamUrl }
    : { kind: 'stdio', command: cmd[0]!, args: cmd.slice(1) },
  logger: {
    debug() {},
    info() {},
    warn: (o, m) => process.stderr.write(`warn: ${m} ${JSON.stringify(o)}\n`),
    error: (o, m) => process.stderr.write(`error: ${m} ${JSON.stringify(o)}\n`),
  },
});
process.stdout.write(`${JSON.stringify({ url: listener.url.href })}\n`);
const stop = () => {
  void listener.close().then(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
