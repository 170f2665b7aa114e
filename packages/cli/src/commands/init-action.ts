import { type Stats, statSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import {
  type CatalogServer,
  type DraftServer,
  draftFromScan,
  ScanTimeoutError,
  scanServer,
  starterPolicy,
} from '@tollgate/catalog';
import { loadPolicy, MAX_POLICY_BYTES } from '@tollgate/policy';
import { jsonFailureText } from '../json-failure.js';
import { serverCommandProblem } from '../option-values.js';
import { catalogueServer } from './catalogue-entry.js';
import { headerListProblem, headerObject } from './headers.js';
import { upstreamUrlProblem } from './remote.js';
import { catalogForScan, escapedNote, recognitionNote, shownTarget, skippedNote } from './scan-notes.js';

/** Parsed options of `tollgate init`. */
export interface InitOptions {
  server?: string;
  output: string;
  force?: boolean;
  json?: boolean;
  catalog?: string;
  timeout: number;
  /** Live scan of a Streamable HTTP server instead of a command. */
  upstream?: string;
  /** `--header "Name: value"` options for `--upstream`. */
  header?: string[];
}

/**
 * Reports why init stopped: text on stderr, or with `--json` the JSON failure where the JSON
 * summary would have gone (stdout, or stderr when the policy itself goes to stdout); exit 2.
 */
function fail(opts: InitOptions, code: string, message: string): void {
  if (opts.json)
    (opts.output === '-' ? process.stderr : process.stdout).write(jsonFailureText({ code, message }));
  else process.stderr.write(`tollgate init: ${message}\n`);
  process.exitCode = 2;
}

/** Why `output` cannot be written, or undefined when it can (an existing file needs `force`). */
function outputProblem(output: string, force: boolean | undefined): string | undefined {
  const dir = dirname(resolve(output));
  let dirStat: Stats;
  try {
    dirStat = statSync(dir);
  } catch {
    return `cannot write ${output}: directory ${dir} does not exist`;
  }
  if (!dirStat.isDirectory()) return `cannot write ${output}: ${dir} is not a directory`;
  let st: Stats;
  try {
    st = statSync(output);
  } catch {
    return undefined; // Does not exist yet: the usual case.
  }
  if (st.isDirectory()) return `cannot write ${output}: it is a directory; give a file name with -o`;
  if (!force) return `${output} already exists; use --force to overwrite it or -o to choose another file`;
  return undefined;
}

/**
 * The action of `tollgate init`. Every input is checked before the output file: usage, then the
 * catalogue entry, then where the policy goes (an existing file needs --force); a live scan, the
 * only step that starts a process, runs last.
 */
export async function runInit(command: string[], opts: InitOptions): Promise<void> {
  // `--server ''` (an unset variable, say) names nothing: not a live scan of an empty command.
  if (opts.server === '')
    return fail(
      opts,
      'usage',
      '--server needs a catalogue id (e.g. github), got an empty string; for a live scan give the server command after --',
    );
  const sources = [opts.server !== undefined, opts.upstream !== undefined, command.length > 0].filter(
    Boolean,
  );
  if (sources.length === 0)
    return fail(
      opts,
      'usage',
      'give --server <id> (from the catalogue), --upstream <url> or a server command after --',
    );
  if (sources.length > 1)
    return fail(opts, 'usage', 'give one of --server, --upstream or a command after --, not two');
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
  const toStdout = opts.output === '-';

  let catalogued: CatalogServer | undefined;
  if (opts.server) {
    const found = catalogueServer(opts.server, opts.catalog);
    if (typeof found === 'string') return fail(opts, 'catalogue', found);
    catalogued = found;
  }
  if (!toStdout) {
    const problem = outputProblem(opts.output, opts.force);
    if (problem) return fail(opts, 'cannot-write', problem);
  }
  let server: DraftServer;
  let source: string;
  let header: string | undefined;
  let catalogEntry: string | undefined;
  /** Warnings and notes: on stderr, or in the JSON summary when stderr carries it. */
  const notes: string[] = [];
  if (catalogued) {
    server = catalogued;
    source = `catalogue entry ${catalogued.id}`;
  } else {
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
    const draft = draftFromScan(result, { ...(opts.upstream ? {} : { command }), catalog: catalog.entries });
    server = draft.server;
    notes.push(...[...catalog.warnings, ...draft.warnings].map((w) => `warning: ${w}`));
    source = `live scan of ${target}`;
    if (draft.recognised) {
      catalogEntry = draft.recognised.entry.id;
      notes.push(recognitionNote(draft.recognised));
      const { overridden, raised, secrets } = draft.recognised;
      const except: string[] = [];
      if (overridden.length > 0 || raised.length > 0)
        except.push(
          `the categories catalogue entry ${catalogEntry} gives them (curated, or more severe than the listing reads)`,
        );
      if (secrets.length > 0)
        except.push(`the tools catalogue entry ${catalogEntry} notes as returning live credentials`);
      header =
        except.length > 0
          ? `Generated from a ${source}; tools classified on the spot, except ${except.join(', and ')}.`
          : `Generated from a ${source} (catalogue entry ${catalogEntry}); tools classified on the spot.`;
    } else header = `Generated from a ${source}; tools classified on the spot.`;
  }

  const policy = starterPolicy(server, header ? { header } : {});
  for (const s of policy.skipped ?? []) notes.push(skippedNote(s, 'policy'));
  for (const e of policy.escaped ?? []) notes.push(escapedNote(e));
  notes.push(...(await unusableSchemaNotes(server, policy)));
  const jsonOnStderr = opts.json && toStdout;
  if (!jsonOnStderr)
    for (const n of notes)
      process.stderr.write(`tollgate init: ${n}
`);
  // Never write a policy that `tollgate validate` would reject.
  const checked = loadPolicy(policy.yaml, { filename: opts.output });
  if (!checked.ok && checked.errors.some((e) => e.code === 'input-too-large')) {
    // A server with thousands of tools: one rule and comment each is past what a policy may be.
    return fail(
      opts,
      'too-large',
      `the policy for ${server.tools.length} tools would be ${Buffer.byteLength(policy.yaml)} bytes, over the ${MAX_POLICY_BYTES} bytes (1 MiB) a policy may be; write one by hand for the tools the agent needs, with \`default: deny\``,
    );
  }
  if (!checked.ok) {
    return fail(
      opts,
      'internal',
      `generated policy does not validate (a bug, please report it):\n${checked.errors.map((e) => `  ${e.line}:${e.column} ${e.message}`).join('\n')}`,
    );
  }
  if (toStdout) process.stdout.write(policy.yaml);
  else {
    try {
      writeFileSync(opts.output, policy.yaml);
    } catch (err) {
      return fail(opts, 'cannot-write', `cannot write ${opts.output}: ${(err as Error).message}`);
    }
  }
  // The tools the policy has rules for: a name listed twice or one no key can name is left out.
  const counts = Object.fromEntries(Object.entries(policy.categories).filter(([, n]) => n > 0));
  const toolCount = Object.values(counts).reduce((a, b) => a + b, 0);
  if (opts.json) {
    const summary = {
      ok: true,
      file: toStdout ? null : opts.output,
      server: server.id,
      source,
      ...(catalogEntry ? { catalogEntry } : {}),
      tools: toolCount,
      categories: counts,
      ...(notes.length > 0 ? { notes } : {}),
    };
    // On stdout, indented as every command's --json; on stderr (stdout carries the policy) one
    // line, the last, so a caller can take it apart from progress lines before it.
    if (toStdout) process.stderr.write(`${JSON.stringify(summary)}\n`);
    else process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  } else if (!toStdout) {
    process.stderr.write(
      `wrote ${opts.output}: starter policy for ${server.id} (${toolCount} ${toolCount === 1 ? 'tool' : 'tools'}, from the ${source})\n`,
    );
  }
  process.exitCode = 0;
}

/**
 * Warnings for tools whose rule checks `required_args` against an `inputSchema` that does not
 * compile as JSON Schema (`"type": "strin"`): the proxy refuses every call to such a tool
 * (`invalid schema: ...`), which is safe but would surface only at run time. Compiled as the
 * proxy compiles it (`SchemaValidator` of `@tollgate/runtime`, loaded only here).
 */
async function unusableSchemaNotes(
  server: Pick<CatalogServer, 'tools'>,
  policy: ReturnType<typeof starterPolicy>,
): Promise<string[]> {
  const keyOf = new Map((policy.escaped ?? []).map((e) => [e.name, e.key]));
  const checked = server.tools.filter((t) =>
    policy.document.tools?.[keyOf.get(t.name) ?? t.name]?.rules?.some((r) => r.validate?.required_args),
  );
  if (checked.length === 0) return [];
  const { SchemaValidator } = await import('@tollgate/runtime');
  const validator = new SchemaValidator();
  const notes: string[] = [];
  for (const t of checked) {
    const compiled = validator.compile(t.inputSchema);
    if (compiled instanceof Error)
      notes.push(
        `warning: tool ${JSON.stringify(t.name)} lists an inputSchema that is not a valid JSON Schema (${compiled.message}): its rule's \`validate: { required_args: true }\` refuses every call to it until the server fixes its schema (or the line is removed)`,
      );
  }
  return notes;
}
