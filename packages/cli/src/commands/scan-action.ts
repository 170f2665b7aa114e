import {
  classifyTool,
  entryFromScan,
  parameterSummary,
  ScanTimeoutError,
  scanServer,
  serializeCatalog,
  starterPolicy,
} from '@tollgate/catalog';
import { jsonFailureText } from '../json-failure.js';

/** Parsed options of `tollgate scan`. */
export interface ScanCliOptions {
  json?: boolean;
  format: 'policy' | 'catalog';
  timeout: number;
  id?: string;
  upstream?: string;
}

/** Reports a failed scan (text on stderr, or the JSON failure on stdout with `--json`); exit 2. */
function fail(opts: ScanCliOptions, code: string, message: string): void {
  if (opts.json) process.stdout.write(jsonFailureText({ code, message }));
  else process.stderr.write(`tollgate scan: ${message}\n`);
  process.exitCode = 2;
}

export async function runScan(command: string[], opts: ScanCliOptions): Promise<void> {
  if (opts.upstream && command.length > 0)
    return fail(opts, 'usage', 'give either --upstream <url> or a command after --, not both');
  if (!opts.upstream && command.length === 0) {
    return fail(
      opts,
      'usage',
      'give the server command after --, e.g. tollgate scan -- npx -y @modelcontextprotocol/server-memory',
    );
  }
  const target = opts.upstream ?? command.join(' ');
  let result: Awaited<ReturnType<typeof scanServer>>;
  try {
    result = await scanServer({
      command: command[0] ?? '',
      ...(opts.upstream ? { url: opts.upstream } : {}),
      args: command.slice(1),
      timeoutMs: opts.timeout * 1000,
      stderr: 'inherit',
    });
  } catch (err) {
    if (err instanceof ScanTimeoutError) return fail(opts, 'scan-timeout', err.message);
    return fail(opts, 'scan-failed', `could not scan ${target}: ${(err as Error).message}`);
  }
  const entry = entryFromScan(result, opts.id ? { id: opts.id } : {});
  if (opts.json) {
    const tools = result.tools.map((t) => {
      const c = classifyTool({
        name: t.name,
        description: t.description ?? '',
        inputSchema: t.inputSchema,
        ...(t.annotations ? { annotations: t.annotations } : {}),
      });
      return { ...t, parameters: parameterSummary(t.inputSchema), classification: c };
    });
    process.stdout.write(
      `${JSON.stringify({ serverInfo: result.serverInfo, pages: result.pages, tools }, null, 2)}\n`,
    );
  } else if (opts.format === 'catalog') {
    process.stdout.write(
      serializeCatalog(
        entry,
        `Draft catalogue entry from a live scan of: ${target}\n` +
          "Descriptions are the server's own first sentences: rewrite them in your own words\n" +
          '(one sentence, at most 25 words) before adding this file to catalog/.',
      ),
    );
  } else {
    const policy = starterPolicy(entry, {
      parameters: true,
      header: `Scaffold from a live scan of: ${target}\nEach rule follows the tool's risk category as classified on the spot; review before use.`,
    });
    process.stdout.write(policy.yaml);
  }
  process.exitCode = 0;
}
