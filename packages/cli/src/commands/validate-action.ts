import {
  type CompiledPolicy,
  comparePolicyErrors,
  formatPolicyError,
  loadPolicy,
  MAX_POLICY_BYTES,
  NO_SUCH_TOOL_HINT,
  type PolicyError,
} from '@tollgate/policy';
import { pc } from '../colors.js';
import { plural } from '../plural.js';
import { type BoundedRead, readBounded, tooLargeMessage } from '../read-bounded.js';

/** Summary of a valid policy, as printed by `tollgate validate` (and under `summary` with `--json`). */
export interface ValidateSummary {
  /** Entries under `tools`, split by kind. */
  tools: { total: number; exact: number; glob: number; wildcard: boolean };
  rules: number;
  /** Counter ids defined by `state` blocks, e.g. `create_charge.daily_spend`. */
  counters: string[];
  rateLimits: number;
  hidden: number;
  default: 'allow' | 'deny';
  /** SHA-256 of the canonical policy document. */
  hash: string;
}

function summarise(policy: CompiledPolicy, hidden: number): ValidateSummary {
  const entries = policy.entries;
  const rules = entries.flatMap((e) => e.rules);
  return {
    tools: {
      total: entries.length,
      exact: policy.exact.size,
      glob: policy.globs.length,
      wildcard: policy.wildcard !== undefined,
    },
    rules: rules.length,
    counters: [...policy.counters.keys()],
    rateLimits: rules.filter((r) => r.rateLimit).length,
    hidden,
    default: policy.default,
    hash: policy.hash,
  };
}

function colourError(e: PolicyError): string {
  const text = formatPolicyError(e);
  const [head, ...rest] = text.split('\n');
  const colour = e.severity === 'warning' ? pc.yellow : pc.red;
  return [colour(head ?? ''), ...rest.map((l) => pc.dim(l))].join('\n');
}

/** Parsed options of `tollgate validate`. */
export interface ValidateOptions {
  config: string;
  json?: boolean;
  /** Catalogue server id whose tool names the policy's names are checked against. */
  server?: string;
  catalog?: string;
}

/**
 * Exits 2 with `message` (text on stderr, or the JSON failure shape with `--json`). The error is
 * about the policy file unless `where` names another file (a catalogue file that does not load).
 */
function usageFailure(
  opts: ValidateOptions,
  code: string,
  message: string,
  where?: { file?: string; line?: number; column?: number },
): void {
  if (opts.json) {
    const error = {
      file: where?.file ?? opts.config,
      line: where?.line,
      column: where?.column,
      code,
      message,
    };
    process.stdout.write(
      `${JSON.stringify({ ok: false, file: opts.config, errors: [error], warnings: [] }, null, 2)}\n`,
    );
  } else process.stderr.write(`tollgate validate: ${message}\n`);
  process.exitCode = 2;
}

/**
 * An `unlisted-tool` warning of `--server <id>` whose name is no near miss: the catalogue entry is
 * a snapshot taken by a client that declared no capabilities, and some servers list more tools to
 * clients that declare `roots`, `sampling` or `elicitation` (server-everything does; see
 * docs/catalog.md, "Reproducible entries"), so a real tool may be missing from it. The hint says so
 * rather than calling the name a typo. Other warnings are returned as they are.
 */
function catalogueHint(w: PolicyError, server: string | undefined): PolicyError {
  if (server === undefined || w.code !== 'unlisted-tool' || w.hint !== NO_SUCH_TOOL_HINT) return w;
  return {
    ...w,
    hint: `catalogue entry ${server} lists no such tool: check the spelling, unless the server lists it only to clients that declare capabilities (roots, sampling, elicitation), which the catalogue's snapshot did not`,
  };
}

/**
 * The action of `tollgate validate`: load the policy at `opts.config` with the proxy's
 * `loadPolicy` and print every problem (stderr) or a summary (stdout, or JSON with `--json`).
 * With `opts.server`, tool names are checked against that catalogue entry (`unlisted-tool`), and
 * condition paths against its tools' `inputSchema`s (`unknown-argument`, `regex-on-list`).
 * Sets `process.exitCode`: 0 valid (warnings allowed), 1 invalid, 2 unreadable file or unknown
 * `--server`.
 */
export async function runValidate(opts: ValidateOptions): Promise<void> {
  const file = opts.config;
  let toolNames: string[] | undefined;
  let toolSchemas: Map<string, unknown> | undefined;
  if (opts.catalog !== undefined && opts.server === undefined)
    return usageFailure(opts, 'invalid-option', '--catalog applies to --server <id>');
  if (opts.server !== undefined) {
    // The catalogue module loads only when asked for.
    const { catalogueEntry } = await import('./catalogue-entry.js');
    const found = catalogueEntry(opts.server, opts.catalog);
    if ('problem' in found) return usageFailure(opts, 'catalogue', found.problem.message, found.problem);
    const entry = found.server;
    toolNames = entry.tools.map((t) => t.name);
    toolSchemas = new Map(entry.tools.map((t) => [t.name, t.inputSchema]));
  }
  let read: BoundedRead;
  try {
    // A regular file over the cap is reported from its size alone; a pipe is read to the cap + 1.
    read = readBounded(file, MAX_POLICY_BYTES);
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    if (opts.json) {
      process.stdout.write(
        `${JSON.stringify({ ok: false, file, errors: [{ file, code: 'unreadable-file', message: reason }], warnings: [] }, null, 2)}\n`,
      );
    } else process.stderr.write(`tollgate validate: cannot read ${file}: ${reason}\n`);
    process.exitCode = 2;
    return;
  }
  const result: ReturnType<typeof loadPolicy> = read.ok
    ? loadPolicy(read.text, {
        filename: file,
        ...(toolNames ? { toolNames } : {}),
        ...(toolSchemas ? { toolSchemas } : {}),
      })
    : {
        ok: false,
        warnings: [],
        errors: [
          {
            file,
            line: 1,
            column: 1,
            code: 'input-too-large',
            message: tooLargeMessage(read, MAX_POLICY_BYTES, 'policy'),
            severity: 'error',
          },
        ],
      };
  // One order for everything printed: by line, then column, errors and warnings interleaved.
  const warnings = [...result.warnings].map((w) => catalogueHint(w, opts.server)).sort(comparePolicyErrors);
  const errors = result.ok ? [] : [...result.errors].sort(comparePolicyErrors);
  if (opts.json) {
    const out = result.ok
      ? {
          ok: true,
          file,
          summary: summarise(result.policy, result.document.hide?.length ?? 0),
          errors,
          warnings,
        }
      : { ok: false, file, errors, warnings };
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    process.exitCode = result.ok ? 0 : 1;
    return;
  }
  for (const p of [...errors, ...warnings].sort(comparePolicyErrors))
    process.stderr.write(`${colourError(p)}\n`);
  if (!result.ok) {
    process.stderr.write(
      `${pc.red(`${file}: invalid policy, ${plural(result.errors.length, 'error')}`)}${result.warnings.length ? `, ${plural(result.warnings.length, 'warning')}` : ''}\n`,
    );
    process.exitCode = 1;
    return;
  }
  const s = summarise(result.policy, result.document.hide?.length ?? 0);
  const kinds = [
    s.tools.exact ? `${s.tools.exact} exact` : '',
    s.tools.glob ? plural(s.tools.glob, 'glob') : '',
    s.tools.wildcard ? '"*"' : '',
  ].filter(Boolean);
  process.stdout.write(
    `${pc.green('✓')} ${file} is valid\n` +
      `  tools: ${s.tools.total}${kinds.length ? ` (${kinds.join(', ')})` : ''}, rules: ${s.rules}, rate limits: ${s.rateLimits}, counters: ${s.counters.length}${s.counters.length ? ` (${s.counters.join(', ')})` : ''}\n` +
      `  hidden: ${s.hidden}, default: ${s.default}, warnings: ${result.warnings.length}\n` +
      `  hash: ${s.hash}\n`,
  );
}
