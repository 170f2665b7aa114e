import {
  CATALOG_ID_PATTERN,
  CATALOGUED_CATEGORY_REASON,
  type CatalogServer,
  classifyTool,
  draftFromScan,
  parameterSummary,
  ScanTimeoutError,
  scanServer,
  serializeCatalog,
  starterPolicy,
} from '@tollgate/catalog';
import { MAX_POLICY_BYTES } from '@tollgate/policy';
import { jsonFailureText } from '../json-failure.js';
import { serverCommandProblem } from '../option-values.js';
import { headerListProblem, headerObject } from './headers.js';
import { upstreamUrlProblem } from './remote.js';
import { catalogForScan, escapedNote, recognitionNote, shownTarget, skippedNote } from './scan-notes.js';

/** Parsed options of `tollgate scan`. */
export interface ScanCliOptions {
  json?: boolean;
  format: 'policy' | 'catalog';
  /** `--format` was on the command line (not only its default). */
  formatGiven?: boolean;
  timeout: number;
  id?: string;
  upstream?: string;
  /** `--header "Name: value"` options for `--upstream`. */
  header?: string[];
  catalog?: string;
}

/** Reports a failed scan (text on stderr, or the JSON failure on stdout with `--json`); exit 2. */
function fail(opts: ScanCliOptions, code: string, message: string): void {
  if (opts.json) process.stdout.write(jsonFailureText({ code, message }));
  else process.stderr.write(`tollgate scan: ${message}\n`);
  process.exitCode = 2;
}

/** A note on stderr (also under `--json`, whose output is on stdout). */
function note(message: string): void {
  process.stderr.write(`tollgate scan: ${message}\n`);
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
  const commandProblem = serverCommandProblem(command);
  if (commandProblem) return fail(opts, 'usage', commandProblem);
  const headerProblem =
    opts.header?.length && !opts.upstream
      ? '--header only applies to --upstream'
      : headerListProblem(opts.header);
  if (headerProblem) return fail(opts, 'usage', headerProblem);
  // The proxy's own check: a URL with credentials in it, or one that is not http(s), never scans.
  const urlProblem = opts.upstream === undefined ? undefined : upstreamUrlProblem(opts.upstream);
  if (urlProblem) return fail(opts, 'usage', urlProblem);
  if (opts.json && opts.formatGiven)
    return fail(opts, 'usage', `give either --json or --format ${opts.format}, not both`);
  if (opts.id !== undefined && !CATALOG_ID_PATTERN.test(opts.id)) {
    return fail(
      opts,
      'usage',
      `--id ${JSON.stringify(opts.id)} is not a catalogue id: lower-case letters, digits, ".", "_" or "-", starting with a letter or digit`,
    );
  }
  const { text: target, mask } = await shownTarget(opts.upstream, command);
  let result: Awaited<ReturnType<typeof scanServer>>;
  try {
    result = await scanServer({
      command: command[0] ?? '',
      ...(opts.upstream ? { url: opts.upstream, headers: headerObject(opts.header) } : {}),
      args: command.slice(1),
      timeoutMs: opts.timeout * 1000,
      stderr: 'inherit',
    });
  } catch (err) {
    if (err instanceof ScanTimeoutError) return fail(opts, 'scan-timeout', mask(err.message));
    return fail(opts, 'scan-failed', `could not scan ${target}: ${mask((err as Error).message)}`);
  }
  const catalog = catalogForScan(opts.catalog);
  const draft = draftFromScan(result, {
    ...(opts.upstream ? {} : { command }),
    ...(opts.id ? { id: opts.id } : {}),
    catalog: catalog.entries,
  });
  const { server, recognised } = draft;
  for (const w of [...catalog.warnings, ...draft.warnings]) note(`warning: ${w}`);
  if (recognised) note(recognitionNote(recognised));
  if (opts.json) {
    const tools = draft.tools.map((t, i) => {
      const category = server.tools[i]?.category;
      // The catalogue's note that the result carries live credentials: it raises the risk to High
      // and the starter policy denies the tool, so the JSON says so too.
      const secrets = server.tools[i]?.secrets;
      const c = classifyTool({
        name: t.name,
        description: t.description ?? '',
        inputSchema: t.inputSchema,
        ...(t.annotations ? { annotations: t.annotations } : {}),
        ...(category ? { category } : {}),
        ...(secrets ? { secrets } : {}),
      });
      return {
        ...t,
        parameters: parameterSummary(t.inputSchema),
        classification: c,
        ...(secrets ? { secrets } : {}),
      };
    });
    // `id` and `package` (known only from an `npx <package>` command) make this output a
    // snapshot that `tollgate catalog import` reads.
    const out = {
      ok: true,
      id: server.id,
      ...(server.package ? { package: server.package } : {}),
      serverInfo: result.serverInfo,
      pages: result.pages,
      ...(recognised ? { catalogEntry: recognised.entry.id } : {}),
      warnings: draft.warnings,
      tools,
    };
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  } else if (opts.format === 'catalog') {
    const packageLine = server.package
      ? []
      : [
          opts.upstream
            ? 'package: unknown (a scan over HTTP names no package); add'
            : 'package: unknown (the command is not `npx <package>`); add',
          '`package: { registry: npm|pypi, name, version }` before adding this file to catalog/.',
        ];
    // A category raised to the catalogue's (see `Recognition.raised`) is the classifier's answer
    // on the catalogue's description, not a curated decision: a draft entry must not record it as
    // an override, which would then be carried on every import.
    const draftServer = {
      ...server,
      tools: server.tools.map((t) => {
        if (!t.category?.reason.startsWith(CATALOGUED_CATEGORY_REASON)) return t;
        const { category: _raised, ...rest } = t;
        return rest;
      }),
    };
    process.stdout.write(
      serializeCatalog(
        // Without a package the serializer leaves the key out (the draft is to be completed).
        draftServer as CatalogServer,
        [
          `Draft catalogue entry from a live scan of: ${target}`,
          "Descriptions are the server's own first sentences: rewrite them in your own words",
          '(one sentence, at most 25 words) before adding this file to catalog/.',
          ...packageLine,
          ...(recognised && recognised.overridden.length > 0
            ? [`Curated category overrides carried over from catalogue entry ${recognised.entry.id}.`]
            : []),
        ].join('\n'),
      ),
    );
  } else {
    const policy = starterPolicy(server, {
      parameters: true,
      header:
        `Scaffold from a live scan of: ${target}\n` +
        (recognised
          ? `Each rule follows the tool's risk category: the curated one of catalogue entry ${recognised.entry.id} where it has one, else classified on the spot and never below the catalogue's; review before use.`
          : "Each rule follows the tool's risk category as classified on the spot; review before use."),
    });
    for (const s of policy.skipped ?? []) note(skippedNote(s, 'scaffold'));
    for (const e of policy.escaped ?? []) note(escapedNote(e));
    const bytes = Buffer.byteLength(policy.yaml);
    if (bytes > MAX_POLICY_BYTES)
      note(
        `warning: the scaffold is ${bytes} bytes, over the ${MAX_POLICY_BYTES} bytes (1 MiB) a policy may be: keep the tools the agent needs before using it`,
      );
    process.stdout.write(policy.yaml);
  }
  process.exitCode = 0;
}
