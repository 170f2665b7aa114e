/**
 * Tool-specific prose for tool pages: what the category means for this tool in practice, and the
 * six FAQ answers (also emitted as schema.org `FAQPage` JSON-LD). Built from catalogue facts only
 * (name, description, inputSchema, classification, recommended rule), never from upstream text.
 */
import { amountField, type Category, type Risk } from '@tollgate/catalog';
import { countOf, RISK_OF, type SiteServer, type SiteTool, toolPolicyFile } from './catalog.ts';

/** What each category means, in one sentence, for category pages and badges. */
export const CATEGORY_MEANING: Readonly<Record<Category, string>> = {
  Read: 'Retrieves or observes data without changing anything.',
  Write: 'Creates or changes data or state in a way that can be undone.',
  Execute: 'Runs code, commands, queries, scripts, jobs or browser actions chosen at call time.',
  Destructive: 'Deletes, revokes, terminates or irreversibly overwrites something.',
  Financial: 'Moves money or creates a financial obligation.',
};

/** What each risk level means for an operator. */
export const RISK_MEANING: Readonly<Record<Risk, string>> = {
  Low: 'Misuse mostly leaks information or wastes calls; rate limits and argument scoping are usually enough.',
  Medium: 'Misuse changes data; the change can be reverted but someone has to notice first.',
  High: 'Misuse runs arbitrary work with the server’s authority and can cost money or reach other systems.',
  Critical: 'Misuse is irreversible or moves money; allow only in supervised sessions, or hide the tool.',
};

/** What the tool's risk means for it: {@link RISK_MEANING}, or why a credential makes it High. */
export function riskMeaning(tool: SiteTool): string {
  if (tool.secrets && tool.risk !== RISK_OF[tool.category])
    return `Its category alone is ${RISK_OF[tool.category]} risk, but its result hands the agent a live credential, which works outside every policy once read.`;
  return RISK_MEANING[tool.risk];
}

/** Names of the tool's input arguments, required ones first (from its `inputSchema`). */
export function argumentNames(tool: SiteTool): { required: string[]; optional: string[] } {
  const props = tool.inputSchema.properties;
  const names = props && typeof props === 'object' ? Object.keys(props as object) : [];
  const req = Array.isArray(tool.inputSchema.required)
    ? (tool.inputSchema.required as unknown[]).filter((x): x is string => typeof x === 'string')
    : [];
  return { required: names.filter((n) => req.includes(n)), optional: names.filter((n) => !req.includes(n)) };
}

function code(s: string): string {
  return `\`${s}\``;
}

function list(items: string[], max = 6): string {
  const shown = items.slice(0, max).map(code);
  const more = items.length > max ? `, and ${items.length - max} more` : '';
  if (shown.length <= 1) return shown.join('') + more;
  return `${shown.slice(0, -1).join(', ')}${more ? ', ' : ' and '}${shown.at(-1)}${more}`;
}

/**
 * `the <name> MCP server`, without saying "MCP server" twice when the server's own name ends with
 * it (`the AWS Bedrock AgentCore MCP Server`).
 */
export function serverPhrase(name: string): string {
  return /\bMCP server$/i.test(name.trim()) ? `the ${name}` : `the ${name} MCP server`;
}

/** A sentence describing the tool's arguments, or that it takes none. */
export function argumentSentence(tool: SiteTool): string {
  const { required, optional } = argumentNames(tool);
  if (required.length === 0 && optional.length === 0) {
    // With `additionalProperties: false` the schema admits no argument at all; otherwise any.
    return tool.inputSchema.additionalProperties === false
      ? `${code(tool.name)} takes no arguments: its inputSchema declares none and sets ${code('additionalProperties: false')}, so a call with any argument fails a check against that schema.`
      : `${code(tool.name)} declares no arguments in its inputSchema, so a check against that schema admits any arguments.`;
  }
  const parts: string[] = [];
  if (required.length) parts.push(`requires ${list(required)}`);
  if (optional.length) parts.push(`accepts ${list(optional)} optionally`);
  return `${code(tool.name)} ${parts.join(' and ')}.`;
}

/**
 * What the tool's category means in practice for this tool: the category's general risk, applied
 * to the tool's own name, server and arguments. Markdown-free plain text with backticks for code.
 */
export function categoryInPractice(tool: SiteTool): string {
  return `${byCategory(tool)}${secretsSentence(tool)}`;
}

/** For a tool the catalogue notes as returning live credentials: why it is denied. Else empty. */
function secretsSentence(tool: SiteTool): string {
  if (!tool.secrets) return '';
  return ` Beyond its category, its result carries live credentials (${lowerFirst(tool.secrets.replace(/\.$/, ''))}): a secret one call hands to the agent can be used outside every policy, and a rate limit does not take it back. The recommended policy therefore denies ${code(tool.name)}; allow it only for an agent you would give that secret to.`;
}

function lowerFirst(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1);
}

function byCategory(tool: SiteTool): string {
  const { required, optional } = argumentNames(tool);
  const args = [...required, ...optional];
  const steer = args.length ? ` Whoever controls ${list(args, 3)} decides what happens.` : '';
  const t = code(tool.name);
  const s = tool.serverName;
  switch (tool.category) {
    case 'Read':
      return `${t} only reads through ${s}, so a misused call cannot change anything, but what it returns lands in the model's context: it can expose data the task did not need, and content written by others can carry injected instructions.${steer} ${args.length || tool.inputSchema.additionalProperties !== false ? 'Scope its arguments and rate-limit it' : 'It takes no arguments to scope: rate-limit it'} to stop bulk harvesting.`;
    case 'Write':
      return `${t} changes state through ${s}. The change is recoverable, but an agent in a loop or following injected text can make many changes before anyone looks, and each one is made with the server's credentials.${steer} Limit how often it runs and which targets it may touch.`;
    case 'Execute':
      return `${t} runs work chosen at call time through ${s}: code, commands, jobs or sessions that act with the server's authority, may reach the network and can cost money per call.${steer} Cap the call rate with a sliding window and validate every call against its inputSchema so malformed or unexpected arguments never reach the server.`;
    case 'Destructive':
      return `${t} removes or irreversibly changes something through ${s}; there is no undo if the model misreads the task or is manipulated into the call.${steer} The recommended policy denies it and tells the agent to ask a human; allow it only in sessions a human supervises.`;
    case 'Financial': {
      const field = amountField(tool.inputSchema);
      const caps = field
        ? ` and bounds both a single ${code(field)} and the UTC day's total of ${code(field)} with a counter`
        : '';
      return `${t} moves money or creates an obligation through ${s}. A loop or an injected instruction turns directly into cost.${steer} The recommended policy caps how many calls it admits per UTC day${caps}; hide it where no payment is expected.`;
    }
  }
}

/** One FAQ question and its answer (plain text with backticks for code). */
export interface FaqEntry {
  question: string;
  answer: string;
}

function rateLimitText(tool: SiteTool): string | undefined {
  const rl = tool.rateLimit;
  if (!rl) return undefined;
  if (rl.kind === 'sliding') {
    return `at most ${rl.max} calls in any rolling ${rl.windowSeconds} seconds (\`rate_limit: { max: ${rl.max}, window: ${rl.windowSeconds} }\`)`;
  }
  const m = /^(\d+)\/(minute|hour|day)$/.exec(rl.text);
  return m
    ? `at most ${m[1]} calls per calendar ${m[2]} (UTC) (\`rate_limit: ${rl.text}\`)`
    : `\`rate_limit: ${rl.text}\``;
}

/**
 * The six questions of a tool page, answered with this tool's facts.
 *
 * @param tool - the tool
 * @param server - its server (for the launch command and package)
 */
export function toolFaq(tool: SiteTool, server: SiteServer): FaqEntry[] {
  const t = code(tool.name);
  const file = toolPolicyFile(server.id, tool.name);
  const rl = rateLimitText(tool);
  const topEvidence = [...tool.evidence].sort((a, b) => b.weight - a.weight)[0];
  const why = tool.overridden
    ? `The catalogue sets this category by hand${tool.overrideReason ? `: ${tool.overrideReason}` : '.'}`
    : topEvidence
      ? `The classifier's strongest evidence: ${topEvidence.detail}.`
      : '';
  const pkg = `${server.packageName}${server.version ? `@${server.version}` : ''}`;
  return [
    {
      question: `What does ${tool.name} do?`,
      answer: `${tool.description} It is a tool of ${serverPhrase(server.name)}. ${argumentSentence(tool)}`,
    },
    {
      question: `How do I enforce a policy on ${tool.name}?`,
      answer: `Save the recommended policy on this page as ${code(file)} and start the server behind Tollgate: ${code(`tollgate -c ${file} -- ${server.launchCommand}`)}. Point your MCP client at that command instead of the server's; every ${code('tools/call')} of ${t} is then checked against the policy before it reaches ${server.name}.`,
    },
    {
      question: `What risk level is ${tool.name}?`,
      answer:
        `${tool.risk}. ${t} is classified as ${tool.category} (${CATEGORY_MEANING[tool.category].toLowerCase().replace(/\.$/, '')}), and every ${tool.category} tool carries ${RISK_OF[tool.category]} risk. ${why}${tool.secrets ? ` Its result also carries live credentials (${lowerFirst(tool.secrets.replace(/\.$/, ''))}), which makes it ${tool.risk} risk whatever its category, and the recommended policy denies it.` : ''}`.trim(),
    },
    {
      question: `Can I rate-limit ${tool.name}?`,
      answer: rl
        ? `Yes. The recommended policy already allows ${rl}. Change the numbers to fit your workload; a denied call returns an error result telling the agent when the next call is admitted.`
        : tool.category === 'Destructive' || tool.secrets
          ? `Yes, though the recommended policy denies ${t} outright${tool.secrets ? ' (its result carries live credentials)' : ''}. To admit a few calls instead, replace its deny rule with a rule such as ${code('rate_limit: 5/day')} (a calendar-aligned fixed window) or ${code('rate_limit: { max: 1, window: 3600 }')} (a sliding window) under ${code(`tools.${tool.name}.rules`)} in ${code(file)}.`
          : `Yes. Add a rule such as ${code('rate_limit: 30/minute')} (a calendar-aligned fixed window) or ${code('rate_limit: { max: 30, window: 60 }')} (a sliding window) under ${code(`tools.${tool.name}.rules`)} in ${code(file)}.`,
    },
    {
      question: `How do I block ${tool.name} completely?`,
      answer: `${tool.category === 'Destructive' || tool.secrets ? `The recommended policy already denies every call to ${t}. To also keep it out of sight, remove its entry under ${code('tools')} in ${code(file)} and list it under ${code('hide')} instead` : `Remove its entry under ${code('tools')} in ${code(file)} (a hidden tool's rules never run, and ${code('tollgate validate')} warns about them) and list it under ${code('hide')}`}: ${code(`hide: [${tool.name}]`)}. Tollgate then removes ${t} from ${code('tools/list')} so the model never sees it, and denies any ${code('tools/call')} for it. A rule with ${code('action: deny')} also blocks it while keeping it listed.`,
    },
    {
      question: `Which MCP server provides ${tool.name}?`,
      answer: `${server.name}, published on ${server.registry === 'npm' ? 'npm' : 'PyPI'} as ${code(pkg)}${server.repository ? ` (source: ${server.repository})` : ''}. It offers ${countOf(server.tools.length, 'tool')} in total; start it with ${code(server.launchCommand)}${server.launchHasPlaceholders ? ', with your own values in place of the `<your-...>` placeholders' : ''}.`,
    },
  ];
}

/** schema.org `FAQPage` JSON-LD for the FAQ (backticks removed: JSON-LD answers are plain text). */
export function faqJsonLd(entries: FaqEntry[]): Record<string, unknown> {
  return {
    '@context': 'https://schema.org',
    '@type': 'FAQPage',
    mainEntity: entries.map((e) => ({
      '@type': 'Question',
      name: e.question,
      acceptedAnswer: { '@type': 'Answer', text: e.answer.replaceAll('`', '') },
    })),
  };
}

/** Escapes text for HTML and turns `code` spans into `<code>` elements. */
export function inlineCode(text: string): string {
  const escaped = text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  return escaped.replace(/`([^`]+)`/g, '<code>$1</code>');
}
