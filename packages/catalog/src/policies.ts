/**
 * Recommended rules per category, and starter policies built from them. The reasons for each
 * number are in docs/catalog.md ("Recommended rules").
 */

import { validateToolName } from '@modelcontextprotocol/sdk/shared/toolNameValidation.js';
import { emitPolicy, loadPolicy, type PolicyDocument, type PolicyRule, printable } from '@tollgate/policy';
import { type Classification, classifyTool } from './classifier.js';
import { CATALOGUED_CATEGORY_REASON, type CatalogServer, type CatalogTool, type Category } from './types.js';

export type { PolicyDocument, PolicyRule } from '@tollgate/policy';

/** Per-category limits used by {@link recommendedRule}. Windows in seconds (sliding). */
export const RECOMMENDED_LIMITS = Object.freeze({
  /** Read: generous, only stops runaway loops and bulk exfiltration. 60 calls per rolling 60 s. */
  Read: { max: 60, window: 60 },
  /** Write: changes state; 20 calls per rolling 60 s, arguments checked. */
  Write: { max: 20, window: 60 },
  /** Execute: 10 calls per rolling 60 s, arguments checked (issue 5). */
  Execute: { max: 10, window: 60 },
  /** Financial: at most 10 calls per UTC day. */
  FinancialCallsPerDay: 10,
  /** Financial: largest single amount, in the tool's own units (Stripe: cents, so $100.00). */
  FinancialSingleAmount: 10_000,
  /** Financial: largest sum of amounts per UTC day, in the tool's own units (Stripe: $500.00). */
  FinancialDailyAmount: 50_000,
});

/** Top-level numeric properties of an inputSchema that hold a money amount. */
const AMOUNT_FIELD = /^(amount|unit_?amount|amount_?(cents|due|paid|off)|total|price|refund_?amount)$/i;

/** True when `field` is in the inputSchema's top-level `required` list. */
function isRequired(inputSchema: Record<string, unknown>, field: string): boolean {
  return Array.isArray(inputSchema.required) && inputSchema.required.includes(field);
}

/**
 * The numeric amount property of a tool's inputSchema, if it has one at the top level
 * (`type: number` or `integer`), e.g. `amount`. Financial rules cap it.
 */
export function amountField(inputSchema: Record<string, unknown>): string | undefined {
  const props = inputSchema.properties as Record<string, { type?: unknown }> | undefined;
  if (!props || typeof props !== 'object') return undefined;
  for (const [key, prop] of Object.entries(props)) {
    const types = Array.isArray(prop?.type) ? prop.type : [prop?.type];
    if (AMOUNT_FIELD.test(key) && types.some((t) => t === 'number' || t === 'integer')) return key;
  }
  return undefined;
}

/** Quoted names, at most six, then how many more: `"a", "b" and 3 more`. */
function namesList(names: readonly string[]): string {
  const shown = names.slice(0, 6).map((n) => JSON.stringify(n));
  const rest = names.length - shown.length;
  if (rest > 0) return `${shown.join(', ')} and ${rest} more`;
  return shown.length === 1 ? shown[0]! : `${shown.slice(0, -1).join(', ')} and ${shown.at(-1)}`;
}

/**
 * The recommended rules for one tool, by its category:
 * - Read: `action: allow`, sliding `rate_limit` 60 per 60 s.
 * - Write: `action: allow`, 20 per 60 s, `validate: { required_args: true }`.
 * - Execute: `action: allow`, 10 per 60 s, `validate: { required_args: true }` (issue 5).
 * - Destructive: `action: deny` with an `on_deny` telling the agent to ask a human.
 * - Financial: 10 calls per UTC day (fixed window), arguments validated; when the schema has a
 *   numeric amount field, a second rule caps a single amount at 10,000 and the UTC day's sum at
 *   50,000 (the tool's own units) with a day counter. Two rules, because the policy language keeps
 *   `rate_limit` apart from `conditions`/`state`.
 *
 * - Any category, when the tool carries a curated {@link SecretsNote} (its result holds live
 *   credentials): `action: deny` with an `on_deny` saying so. A rate limit does not protect a secret
 *   that one call hands to the agent.
 *
 * Rule names end with the server id when one is given (`write rate limit (github)`), and so do
 * the Financial day counters (`daily_amount_stripe_0_2_5`): a rate limit's bucket is keyed by tool
 * and rule name and a counter by tool and counter name, not by server or policy file
 * (docs/policy-reference.md, "Which calls share a limit"), so `create_issue` behind a GitHub
 * proxy and behind a GitLab proxy on the same state would otherwise draw on one bucket.
 * @param tool the tool (name and inputSchema are read).
 * @param classification the tool's classification (see {@link classifyTool}).
 * @param server the id of the server the tool belongs to, added to every rule name.
 * @returns one rule, or two for Financial tools with an amount field.
 */
export function recommendedRules(
  tool: RecommendedFor,
  classification: Pick<Classification, 'category'>,
  server?: string,
): PolicyRule[] {
  const rules = baseRules(tool, classification, server);
  if (!server) return rules;
  return rules.map((r) => ({ ...r, name: `${r.name} (${server})` }));
}

/** What a recommendation reads of a tool: its name, inputSchema and, if curated, its secrets note. */
export type RecommendedFor = Pick<CatalogTool, 'name' | 'inputSchema'> &
  Partial<Pick<CatalogTool, 'secrets'>>;

function baseRules(
  tool: RecommendedFor,
  classification: Pick<Classification, 'category'>,
  server: string | undefined,
): PolicyRule[] {
  const L = RECOMMENDED_LIMITS;
  if (tool.secrets)
    return [
      {
        name: 'returns secrets: denied by default',
        action: 'deny',
        on_deny: `${tool.name} returns live credentials and is denied by this policy; ask a human to do it or change the policy`,
      },
    ];
  switch (classification.category) {
    case 'Read':
      return [{ name: 'read rate limit', action: 'allow', rate_limit: { ...L.Read } }];
    case 'Write':
      return [
        {
          name: 'write rate limit',
          action: 'allow',
          rate_limit: { ...L.Write },
          validate: { required_args: true },
        },
      ];
    case 'Execute':
      return [
        {
          name: 'execute rate limit',
          action: 'allow',
          rate_limit: { ...L.Execute },
          validate: { required_args: true },
        },
      ];
    case 'Destructive':
      return [
        {
          name: 'destructive: denied by default',
          action: 'deny',
          on_deny: `${tool.name} is destructive and denied by this policy; ask a human to do it or change the policy`,
        },
      ];
    case 'Financial': {
      const rules: PolicyRule[] = [
        {
          name: 'financial daily call cap',
          action: 'allow',
          rate_limit: `${L.FinancialCallsPerDay}/day`,
          validate: { required_args: true },
          // No on_deny: it would lead every denial of this rule, arguments that fail the schema
          // included. The default messages say which check failed, and when the day's limit is
          // reached, the UTC time the next call is admitted.
        },
      ];
      const field = amountField(tool.inputSchema);
      if (field) {
        // Counters are keyed by tool and counter name like rate limits by rule name: the server
        // id (word characters only: a counter name has no dots) keeps servers' totals apart.
        const counter = `daily_${field}${server ? `_${server.replace(/\W/g, '_')}` : ''}`;
        rules.push({
          name: 'financial amount caps',
          conditions: [
            { path: `args.${field}`, op: 'lte', value: L.FinancialSingleAmount },
            { path: `state.${tool.name}.${counter}`, op: 'lte', value: L.FinancialDailyAmount },
          ],
          state: { counter, window: 'day', increment_from: `args.${field}` },
          on_deny: `${tool.name}: ${field} is capped at ${L.FinancialSingleAmount} per call and ${L.FinancialDailyAmount} per UTC day${isRequired(tool.inputSchema, field) ? '' : `; a call that leaves ${field} out is refused too (the amount it would move is unknown)`}`,
        });
      }
      return rules;
    }
  }
}

/**
 * The first of {@link recommendedRules}: the whole recommendation for every category except a
 * Financial tool with an amount field, whose amount caps come as a second rule.
 */
export function recommendedRule(
  tool: RecommendedFor,
  classification: Pick<Classification, 'category'>,
  server?: string,
): PolicyRule {
  return recommendedRules(tool, classification, server)[0]!;
}

/** Why a category gets its rule, one line for policy comments. */
export const RULE_REASON: Readonly<Record<Category, string>> = Object.freeze({
  Read: 'only reads; a generous limit stops runaway loops and bulk exfiltration',
  Write: 'changes data; limited and arguments checked against its inputSchema',
  Execute: 'runs code or jobs; tight limit and arguments checked',
  Destructive: 'deletes or destroys; denied until a human decides otherwise',
  Financial: 'moves money; calls per UTC day are capped, and amounts when the tool has an amount field',
});

/**
 * Why this tool gets its starter rules, one line for policy comments: {@link RULE_REASON}, except
 * that a tool with a secrets note says what it returns, and a Financial tool's line says whether its amounts are capped (only a numeric amount field
 * in its inputSchema can be).
 */
export function ruleReason(tool: RecommendedFor, category: Category): string {
  if (tool.secrets) {
    const what = tool.secrets.reason.replace(/\.$/, '');
    return `${what.charAt(0).toLowerCase()}${what.slice(1)}: live credentials, denied until a human decides otherwise`;
  }
  if (category !== 'Financial') return RULE_REASON[category];
  return amountField(tool.inputSchema)
    ? 'moves money; calls per UTC day and amounts are capped'
    : 'moves money; calls per UTC day are capped (its inputSchema has no numeric amount field to cap)';
}

/**
 * One line per top-level parameter of an inputSchema: `name (type, required)`.
 * @example parameterSummary({ properties: { id: { type: 'string' } }, required: ['id'] }) // 'id (string, required)'
 */
export function parameterSummary(inputSchema: Record<string, unknown>): string {
  const props = (inputSchema.properties ?? {}) as Record<string, { type?: unknown; enum?: unknown[] }>;
  const required = new Set(Array.isArray(inputSchema.required) ? (inputSchema.required as string[]) : []);
  const parts = Object.entries(props).map(([k, v]) => {
    const type = Array.isArray(v?.type) ? v.type.join('|') : typeof v?.type === 'string' ? v.type : 'any';
    return `${k} (${type}${required.has(k) ? ', required' : ''})`;
  });
  return parts.length ? parts.join(', ') : 'none';
}

function toolComment(tool: CatalogTool, c: Classification, withParameters: boolean): string {
  const reason = c.evidence[0]?.detail ?? '';
  const why = c.overridden
    ? reason.startsWith(CATALOGUED_CATEGORY_REASON)
      ? reason
      : `manual override: ${reason}`
    : `evidence: ${
        // The pieces for the category first; a piece for another category is labelled with it.
        [
          ...c.evidence.filter((e) => e.category === c.category),
          ...c.evidence.filter((e) => e.category !== c.category),
        ]
          .slice(0, 3)
          .map((e) => `${e.kind} ${e.detail}${e.category === c.category ? '' : ` (${e.category})`}`)
          .join(', ') || 'none'
      }`;
  const params = withParameters ? `\nparameters: ${parameterSummary(tool.inputSchema)}` : '';
  // The description and parameter names come from the server: no escape sequence reaches a
  // terminal that shows the generated file.
  return printableLines(
    `${tool.description}${params}\n${c.category} (${c.risk} risk${tool.secrets ? ': its result carries live credentials' : ''}): ${ruleReason(tool, c.category)}.\n${why}`,
  );
}

/** Each line of `text` made printable (see `printable`), line breaks kept. */
function printableLines(text: string): string {
  return text
    .split(/\r\n|\n|\r/)
    .map((line) => printable(line))
    .join('\n');
}

/** Options of {@link starterPolicy}. */
export interface StarterOptions {
  classify?: (tool: CatalogTool) => Classification;
  parameters?: boolean;
  /** Extra header lines (e.g. where the tools came from). */
  header?: string;
}

/** A policy plus its YAML text. */
export interface EmittedPolicy {
  /** The policy document (version "1"). */
  document: PolicyDocument;
  /** `document` as YAML, with comments, ready to write to a file. */
  yaml: string;
  /**
   * Tools of the server left out of the policy, with why ({@link starterPolicy}): a name no key can
   * stand for alone (a blank one), or a name listed twice.
   */
  skipped?: Array<{ name: string; reason: string }>;
  /**
   * Tools whose key is written escaped: their name holds characters the policy language reads as
   * glob syntax (`*`, `?`, `[`...), each preceded by `\` in the key so that it names this tool
   * alone (docs/policy-reference.md, "Tool keys").
   */
  escaped?: Array<{ name: string; key: string }>;
}

/** A server's starter policy ({@link starterPolicy}). */
export interface StarterPolicy extends EmittedPolicy {
  /** How many tools of each category the policy has rules for (skipped tools not counted). */
  categories: Record<Category, number>;
}

const keyMemo = new Map<string, { key: string } | { problem: string }>();

/** `name` with `\` and each character that glob syntax gives a meaning to escaped by `\`. */
function escapeToolKey(name: string): string {
  return name.replace(/[\\*?[\]{}()!+@|]/g, '\\$&');
}

/** What the policy loader makes of `key` as the only `tools:` key: undefined when it names exactly `name`. */
function keyReadProblem(key: string, name: string): string | undefined {
  const probe = emitPolicy({
    version: '1',
    default: 'allow',
    tools: Object.fromEntries([[key, { rules: [{ name: 'probe', action: 'allow' }] }]]),
  });
  const loaded = loadPolicy(probe, { filename: 'tool-key-probe.yaml' });
  if (!loaded.ok) return 'the policy language rejects this name as a tool key';
  if (loaded.policy.globs.length > 0 || loaded.policy.wildcard)
    return 'the policy language reads this name as a glob, which would match other tools too';
  if (loaded.policy.exact.size !== 1 || !loaded.policy.exact.has(name))
    return 'the policy loader does not keep this name as a tool key';
  return undefined;
}

/**
 * The `tools:` key that the policy language reads as exactly the tool `name` and nothing else:
 * the name itself when it can be (MCP-conforming names, 1-128 of `A-Za-z0-9_.-`, always can,
 * except `__proto__`), else the name with its glob characters escaped (`run*` as `run\*`, `*`
 * as `\*`), else a problem (a blank name). Decided by the policy loader itself (`loadPolicy`).
 */
function toolKeyFor(name: string): { key: string } | { problem: string } {
  if (validateToolName(name).isValid && name !== '__proto__') return { key: name };
  const hit = keyMemo.get(name);
  if (hit !== undefined) return hit;
  let found: { key: string } | { problem: string };
  if (name.trim() === '') found = { problem: 'a blank name cannot be a policy key' };
  else {
    const problem = keyReadProblem(name, name);
    if (problem === undefined) found = { key: name };
    else {
      const escaped = escapeToolKey(name);
      found =
        escaped !== name && keyReadProblem(escaped, name) === undefined
          ? { key: escaped }
          : {
              problem:
                name === '*' ? 'the policy language reads "*" as the wildcard for every tool' : problem,
            };
    }
  }
  if (keyMemo.size < 10_000) keyMemo.set(name, found);
  return found;
}

/**
 * True when `name` as a `tools:` key is read by the policy language as that exact tool name and
 * nothing else (see {@link starterPolicy}, which leaves other names out).
 */
export function isExactToolKey(name: string): boolean {
  const found = toolKeyFor(name);
  return 'key' in found && found.key === name;
}

/**
 * A complete policy (version "1", default allow) that applies the recommended rule to one tool.
 * @param server the server the tool belongs to (named in the header).
 * @param tool the tool; classified with {@link classifyTool} unless `classification` is given.
 */
export function recommendedPolicy(
  server: Pick<CatalogServer, 'id' | 'name'>,
  tool: CatalogTool,
  classification: Classification = classifyTool(tool),
): EmittedPolicy {
  const document: PolicyDocument = {
    version: '1',
    description: `Recommended policy for ${tool.name} (${server.name})`,
    default: 'allow',
    tools: { [tool.name]: { rules: recommendedRules(tool, classification, server.id) } },
  };
  const yaml = emitPolicy(document, {
    header: `Tollgate recommended policy for ${server.id} / ${tool.name}.`,
    comments: { [tool.name]: toolComment(tool, classification, false) },
  });
  return { document, yaml };
}

/**
 * The starter policy for a whole server: every tool listed with its recommended rule and a comment
 * saying what it does, its category, and why the rule is there. Default `allow`, so tools the
 * server adds later still run (rate-limited by nothing); switch to `default: deny` for a closed list.
 * @param server the server with all its tools.
 * @param options.classify classifier to use (default {@link classifyTool}).
 * @param options.parameters add a parameter summary line to each tool's comment (scan scaffolds).
 */
export function starterPolicy(
  server: Pick<CatalogServer, 'id' | 'name' | 'tools'> & Partial<Pick<CatalogServer, 'package'>>,
  options: StarterOptions = {},
): StarterPolicy {
  const classify = options.classify ?? classifyTool;
  // Built as entries: a tool named `__proto__` must stay a key, not set the object's prototype.
  const entries: Array<[string, { rules: PolicyRule[] }]> = [];
  const comments: Record<string, string> = Object.create(null);
  const counts: Record<Category, number> = { Read: 0, Write: 0, Execute: 0, Destructive: 0, Financial: 0 };
  const skipped: Array<{ name: string; reason: string }> = [];
  const escaped: Array<{ name: string; key: string }> = [];
  const unnamed: string[] = [];
  const seen = new Set<string>();
  /** The Execute tools: they run code, queries, commands or jobs. */
  const runners: string[] = [];
  /** The tools whose result carries live credentials (curated): denied whatever their category. */
  const secretive: string[] = [];
  for (const tool of [...server.tools].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    if (seen.has(tool.name)) {
      skipped.push({ name: tool.name, reason: 'listed more than once; the first listing is used' });
      continue;
    }
    seen.add(tool.name);
    const keyed = toolKeyFor(tool.name);
    if ('problem' in keyed) {
      skipped.push({ name: tool.name, reason: keyed.problem });
      unnamed.push(tool.name);
      continue;
    }
    if (keyed.key !== tool.name) escaped.push({ name: tool.name, key: keyed.key });
    const c = classify(tool);
    counts[c.category]++;
    if (c.category === 'Execute') runners.push(keyed.key);
    if (tool.secrets) secretive.push(keyed.key);
    entries.push([keyed.key, { rules: recommendedRules(tool, c, server.id) }]);
    comments[keyed.key] = toolComment(tool, c, options.parameters ?? false);
  }
  const tools: NonNullable<PolicyDocument['tools']> = Object.fromEntries(entries);
  const document: PolicyDocument = {
    version: '1',
    description: `Starter policy for ${printable(server.name)}`,
    default: 'allow',
    tools,
  };
  const summary = (Object.keys(counts) as Category[])
    .filter((k) => counts[k] > 0)
    .map((k) => `${counts[k]} ${k}`)
    .join(', ');
  // Such a tool may do what the denied Destructive tools do (`DROP TABLE` through `query`).
  const bypass =
    counts.Destructive > 0 && runners.length > 0
      ? `\nNote: ${namesList(runners)} ${runners.length === 1 ? 'runs' : 'run'} code, queries, commands or jobs and may be able to do what the denied Destructive tools do: restrict ${runners.length === 1 ? 'its' : 'their'} arguments with conditions (docs/policy-reference.md) or hide ${runners.length === 1 ? 'it' : 'them'}.`
      : '';
  const secrets =
    secretive.length > 0
      ? `\nDenied as ${secretive.length === 1 ? 'it returns' : 'they return'} live credentials (a rate limit does not protect a secret one call hands over): ${namesList(secretive)}.`
      : '';
  const left =
    unnamed.length > 0
      ? `\nLeft out, as no tool key names them alone (default: allow lets them run without rules): ${unnamed
          .map((n) => JSON.stringify(n))
          .join(', ')}.`
      : '';
  const yaml = emitPolicy(document, {
    // The id, the header (a scan's command line) and left-out names may come from the server.
    header: printableLines(
      `Tollgate starter policy for ${server.id}${server.package ? ` (${server.package.name}${server.package.version ? `@${server.package.version}` : ''})` : ''}.\n` +
        `${entries.length} ${entries.length === 1 ? 'tool' : 'tools'}${summary ? `: ${summary}` : ''}.\n` +
        (options.header ??
          "Generated from the Tollgate catalogue; each rule follows its tool's risk category (docs/catalog.md).") +
        bypass +
        secrets +
        left,
    ),
    comments,
  });
  return {
    document,
    yaml,
    ...(skipped.length > 0 ? { skipped } : {}),
    ...(escaped.length > 0 ? { escaped } : {}),
    categories: counts,
  };
}
