import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadPolicy } from '@tollgate/policy';
import { describe, expect, it } from 'vitest';
import { attackPatterns } from '../src/lib/attack-patterns.ts';
import { siteData } from '../src/lib/catalog.ts';
import { repoRoot } from '../src/lib/repo.ts';
import { DIST, requireDist } from './dist.ts';

const data = siteData();

/** Every policy check in these tests goes through the real compiler, like `tollgate validate`. */
function compiles(yaml: string, filename: string): void {
  const result = loadPolicy(yaml, { filename }) as unknown as { ok?: boolean; errors?: unknown[] };
  expect(result?.ok === false || (Array.isArray(result?.errors) && result.errors.length > 0), filename).toBe(
    false,
  );
}

describe('built site (dist/)', () => {
  requireDist();

  it('has a page for every catalogue tool and server, and every category, risk and attack pattern', () => {
    for (const t of data.tools) expect(existsSync(join(DIST, t.url, 'index.html')), t.url).toBe(true);
    for (const s of data.servers) expect(existsSync(join(DIST, s.url, 'index.html')), s.url).toBe(true);
    for (const c of ['read', 'write', 'execute', 'destructive', 'financial'])
      expect(existsSync(join(DIST, 'categories', c, 'index.html'))).toBe(true);
    for (const r of ['low', 'medium', 'high', 'critical'])
      expect(existsSync(join(DIST, 'risks', r, 'index.html'))).toBe(true);
    for (const p of attackPatterns)
      expect(existsSync(join(DIST, 'attacks', p.slug, 'index.html'))).toBe(true);
    const servers = readdirSync(join(DIST, 'tools'));
    expect(servers.sort()).toEqual(data.servers.map((s) => s.id).sort());
  });

  it('lists the tools that return live credentials, and says so on their pages', () => {
    const list = readFileSync(join(DIST, 'secrets/index.html'), 'utf8');
    for (const t of data.secrets) expect(list, t.url).toContain(`href="${t.url}"`);
    expect(data.secrets.map((t) => `${t.serverId}/${t.name}`)).toContain('neon/get_connection_string');
    const page = readFileSync(join(DIST, 'tools/neon/get_connection_string/index.html'), 'utf8');
    expect(page).toContain('data-testid="secrets-note"');
    expect(page).toContain('Returns a Postgres connection string that includes the role&#39;s password.');
    const neon = readFileSync(join(DIST, 'servers/neon/index.html'), 'utf8');
    expect(neon).toContain('data-testid="secret-tools"');
    expect(neon).toContain('href="/tools/neon/get_connection_string/"');
    expect(readFileSync(join(DIST, 'servers/git/index.html'), 'utf8')).not.toContain(
      'data-testid="secret-tools"',
    );
    const plain = readFileSync(join(DIST, 'tools/neon/list_projects/index.html'), 'utf8');
    expect(plain).not.toContain('data-testid="secrets-note"');
  });

  it('serves a starter policy per server that compiles', () => {
    const files = readdirSync(join(DIST, 'policies')).sort();
    expect(files).toEqual(data.servers.map((s) => `${s.id}.yaml`).sort());
    for (const f of files) compiles(readFileSync(join(DIST, 'policies', f), 'utf8'), f);
  });

  it('tool page carries the FAQ as FAQPage JSON-LD with six tool-specific answers', () => {
    const html = readFileSync(
      join(DIST, 'tools/aws-bedrock-agentcore/start_code_interpreter_session/index.html'),
      'utf8',
    );
    expect(html).toContain(
      '<title>start_code_interpreter_session: High risk Execute tool (AWS Bedrock AgentCore MCP Server) | Tollgate</title>',
    );
    expect(html.match(/<title>/g)).toHaveLength(1);
    const m = html.match(/<script type="application\/ld\+json">([\s\S]*?)<\/script>/);
    expect(m).not.toBeNull();
    const ld = JSON.parse(m![1]!) as { '@type': string; mainEntity: { name: string }[] };
    expect(ld['@type']).toBe('FAQPage');
    expect(ld.mainEntity).toHaveLength(6);
    for (const q of ld.mainEntity) expect(q.name).toContain('start_code_interpreter_session');
  });

  it('tool pages name the environment variables their server reads, next to the launch command', () => {
    const html = readFileSync(join(DIST, 'tools/github/push_files/index.html'), 'utf8');
    expect(html).toMatch(
      /<p data-testid="env-names"[^>]*>\s*The server reads <code[^>]*>GITHUB_PERSONAL_ACCESS_TOKEN<\/code> from the environment \(see the <a href="\/servers\/github\/#run-behind-tollgate"[^>]*>server page<\/a>\)\./,
    );
    const noEnv = readFileSync(join(DIST, 'tools/antv-chart/generate_area_chart/index.html'), 'utf8');
    expect(noEnv).not.toContain('data-testid="env-names"');
  });

  it('publishes the policy JSON Schema, llms.txt, a sitemap and the search index', () => {
    const schema = JSON.parse(readFileSync(join(DIST, 'schema/policy.schema.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    expect(typeof schema).toBe('object');
    expect(JSON.stringify(schema)).toContain('rate_limit');
    const llms = readFileSync(join(DIST, 'llms.txt'), 'utf8');
    expect(llms.startsWith('# Tollgate\n')).toBe(true);
    for (const s of data.servers) expect(llms).toContain(`/policies/${s.id}.yaml`);
    const sitemapIndex = readFileSync(join(DIST, 'sitemap-index.xml'), 'utf8');
    expect(sitemapIndex).toContain('sitemap-0.xml');
    const sitemap = readFileSync(join(DIST, 'sitemap-0.xml'), 'utf8');
    expect(sitemap).toContain('/tools/aws-bedrock-agentcore/start_code_interpreter_session/');
    expect(existsSync(join(DIST, 'pagefind/pagefind.js'))).toBe(true);
    expect(existsSync(join(DIST, 'favicon.svg'))).toBe(true);
  });

  it('renders every repository doc and the hand-written docs', () => {
    const docs = readdirSync(join(repoRoot(), 'docs')).filter((f) => f.endsWith('.md'));
    expect(docs.length).toBeGreaterThan(0);
    for (const f of docs) {
      const html = readFileSync(join(DIST, 'docs', f.slice(0, -3), 'index.html'), 'utf8');
      expect(html, f).toMatch(/class="repo-doc[ "]/);
    }
    for (const page of ['quick-start', 'cli-reference'])
      expect(existsSync(join(DIST, 'docs', page, 'index.html')), page).toBe(true);
  });

  it('home page shows the totals and the build-time chart', () => {
    const html = readFileSync(join(DIST, 'index.html'), 'utf8');
    expect(html).toContain(`<strong>${data.tools.length}</strong> tools classified`);
    expect(html).toContain(`<strong>${data.servers.length}</strong> MCP servers`);
    expect(html).toContain(`Execute (a High risk category): ${data.byCategory.Execute.length} tools`);
    // The bars count categories; the tools a secrets note rates above their category are named.
    const raised = data.tools.filter((t) => t.risk === 'High' && t.category !== 'Execute').length;
    expect(raised).toBeGreaterThan(0);
    expect(html).toContain(
      `Each bar is coloured by the risk level of its category. ${raised} tools are rated above their category`,
    );
  });

  it('risk levels overview: the High row counts Execute and the tools raised to High apart', () => {
    const html = readFileSync(join(DIST, 'risks/index.html'), 'utf8');
    const raised = data.byRisk.High.filter((t) => t.category !== 'Execute').length;
    expect(html).toContain(
      `Execute, and ${raised} tools of other categories whose result carries live credentials`,
    );
    expect(data.byRisk.High.length).toBe(data.byCategory.Execute.length + raised);
  });
});

describe('built site agrees with the CLI', () => {
  // The CLI is a devDependency of the site, so turbo builds it before this test runs; only a
  // local run of this file alone can find it missing, and CI must not skip.
  const cli = join(repoRoot(), 'packages/cli/dist/bin.js');
  it.skipIf(!existsSync(cli) && process.env.CI !== 'true')(
    '`tollgate init --server <id>` writes the same starter policy the site serves',
    () => {
      for (const id of ['aws-bedrock-agentcore', 'time', data.servers.at(-1)!.id]) {
        const out = execFileSync(process.execPath, [cli, 'init', '--server', id, '-o', '-'], {
          encoding: 'utf8',
          env: { ...process.env, NO_COLOR: '1' },
          timeout: 30_000,
        });
        expect(out, id).toBe(readFileSync(join(DIST, 'policies', `${id}.yaml`), 'utf8'));
      }
    },
  );
});
