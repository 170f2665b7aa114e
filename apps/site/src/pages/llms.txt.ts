import type { APIRoute } from 'astro';
import { attackPatterns } from '../lib/attack-patterns.ts';
import { CATEGORIES, countOf, RISK_OF, siteData } from '../lib/catalog.ts';

/** `/llms.txt` (llmstxt.org): a Markdown map of the site for language models. */
export const GET: APIRoute = ({ site }) => {
  const base = (site?.href ?? '/').replace(/\/$/, '');
  const { servers, tools, byCategory, secrets } = siteData();
  const lines = [
    '# Tollgate',
    '',
    `> Tollgate is an MCP proxy that enforces YAML policies (allow/deny, argument conditions, rate limits, counters) on every tools/call between an AI agent and an MCP server. This site catalogues ${tools.length} tools of ${servers.length} MCP servers with a risk category and a recommended policy for each.`,
    '',
    `Categories: ${CATEGORIES.map((c) => `${c} (${RISK_OF[c]} risk, ${byCategory[c].length} tools)`).join(', ')}.`,
    '',
    '## Docs',
    '',
    `- [Quick start](${base}/docs/quick-start/): install and run a server behind Tollgate`,
    `- [Policy reference](${base}/docs/policy-reference/): the policy language`,
    `- [CLI reference](${base}/docs/cli-reference/): every tollgate command`,
    `- [Client setup](${base}/docs/clients/): Claude Desktop, Claude Code, Cursor, VS Code`,
    `- [Policy JSON Schema](${base}/schema/policy.schema.json)`,
    '',
    '## Servers',
    '',
    ...servers.map(
      (s) =>
        `- [${s.name}](${base}${s.url}): ${countOf(s.tools.length, 'tool')}; starter policy ${base}/policies/${s.id}.yaml`,
    ),
    '',
    '## Attack patterns',
    '',
    ...attackPatterns.map((p) => `- [${p.title}](${base}/attacks/${p.slug}/): ${p.summary}`),
    '',
    '## Optional',
    '',
    ...CATEGORIES.map((c) => `- [${c} tools](${base}/categories/${c.toLowerCase()}/)`),
    `- [Tools that return live credentials](${base}/secrets/): ${countOf(secrets.length, 'tool')} the starter policies deny whatever their category`,
    '',
  ];
  return new Response(lines.join('\n'), { headers: { 'Content-Type': 'text/plain; charset=utf-8' } });
};
