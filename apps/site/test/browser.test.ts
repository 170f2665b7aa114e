/**
 * Browser tests against the built site: Debian chromium driven by playwright-core, the site served
 * from dist/ on 127.0.0.1. Without /usr/bin/chromium they are skipped (and fail when CI=true).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadPolicy } from '@tollgate/policy';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithChromium, launchChromium } from '../../../packages/cli/test/chromium.ts';
import { repoRoot } from '../src/lib/repo.ts';
import { requireDist } from './dist.ts';
import { type StaticServer, serveStatic } from './static-server.ts';

const ARTIFACTS = fileURLToPath(new URL('../test-artifacts', import.meta.url));
const TOOL_PAGE = '/tools/aws-bedrock-agentcore/start_code_interpreter_session/';
const SERVER_PAGE = '/servers/aws-bedrock-agentcore/';
const PAGES = { home: '/', server: SERVER_PAGE, tool: TOOL_PAGE } as const;
const WIDTHS = { desktop: 1280, phone: 390 } as const;

describeWithChromium('browser', () => {
  let server: StaticServer;
  let browser: Browser;

  beforeAll(async () => {
    server = await serveStatic(requireDist());
    browser = await launchChromium();
    mkdirSync(ARTIFACTS, { recursive: true });
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  async function open(path: string, width = 1280): Promise<Page> {
    const page = await browser.newPage({ viewport: { width, height: 900 }, acceptDownloads: true });
    const res = await page.goto(server.url + path);
    expect(res?.status(), path).toBe(200);
    return page;
  }

  it('tool page shows risk, category, the recommended YAML and all six FAQ answers', async () => {
    const page = await open(TOOL_PAGE);
    try {
      await expect(page.locator('h1').innerText()).resolves.toBe('start_code_interpreter_session');
      await expect(page.getByTestId('risk').innerText()).resolves.toBe('High risk');
      await expect(page.getByTestId('category').innerText()).resolves.toBe('Execute');
      const yaml = await page.locator('#recommended-yaml code').innerText();
      expect(yaml).toMatch(/start_code_interpreter_session:/);
      expect(yaml).toMatch(/rate_limit:\s*(\{\s*max: 10, window: 60\s*\}|\n\s+max: 10\n\s+window: 60)/);
      expect(yaml).toMatch(/validate:\s*(\{\s*required_args: true\s*\}|\n\s+required_args: true)/);
      await expect(page.locator('#recommended-yaml .policy-filename').innerText()).resolves.toBe(
        'aws-bedrock-agentcore-start_code_interpreter_session.yaml',
      );
      await expect(page.locator('#recommended-yaml .policy-copy').isVisible()).resolves.toBe(true);
      const questions = await page.locator('.faq-entry h3').allInnerTexts();
      expect(questions).toEqual([
        'What does start_code_interpreter_session do?',
        'How do I enforce a policy on start_code_interpreter_session?',
        'What risk level is start_code_interpreter_session?',
        'Can I rate-limit start_code_interpreter_session?',
        'How do I block start_code_interpreter_session completely?',
        'Which MCP server provides start_code_interpreter_session?',
      ]);
      const answers = await page.locator('.faq-entry p').allInnerTexts();
      expect(answers).toHaveLength(6);
      expect(answers[0]).toMatch(/code interpreter/i);
      expect(answers[1]).toContain(
        'tollgate -c aws-bedrock-agentcore-start_code_interpreter_session.yaml -- uvx',
      );
      expect(answers[2]).toMatch(/^High\./);
      expect(answers[3]).toContain('at most 10 calls in any rolling 60 seconds');
      expect(answers[4]).toContain('hide: [start_code_interpreter_session]');
      expect(answers[5]).toContain('AWS Bedrock AgentCore MCP Server');
      await expect(page.locator(`a[href="${SERVER_PAGE}#high-risk"]`).count()).resolves.toBe(1);
    } finally {
      await page.close();
    }
  });

  it('server page offers its starter policy download, and the file compiles', async () => {
    const page = await open(SERVER_PAGE);
    try {
      const [download] = await Promise.all([
        page.waitForEvent('download'),
        page.getByTestId('policy-download').click(),
      ]);
      expect(download.suggestedFilename()).toBe('aws-bedrock-agentcore.yaml');
      const file = join(ARTIFACTS, 'aws-bedrock-agentcore.yaml');
      await download.saveAs(file);
      const yaml = readFileSync(file, 'utf8');
      expect(yaml).toContain('start_code_interpreter_session');
      const result = loadPolicy(yaml, { filename: file }) as unknown as {
        ok?: boolean;
        errors?: unknown[];
      };
      expect(result?.ok === false || (Array.isArray(result?.errors) && result.errors.length > 0)).toBe(false);
      const cli = join(repoRoot(), 'packages/cli/dist/bin.js');
      if (existsSync(cli)) {
        // Throws (failing the test) on a non-zero exit.
        execFileSync(process.execPath, [cli, 'validate', '-c', file], { stdio: 'pipe', timeout: 30_000 });
      } else {
        console.warn(`tollgate CLI not built (${cli}); checked the download with loadPolicy only`);
      }
      await expect(page.getByTestId('one-liner').innerText()).resolves.toBe(
        'tollgate -c aws-bedrock-agentcore.yaml -- uvx awslabs.amazon-bedrock-agentcore-mcp-server',
      );
    } finally {
      await page.close();
    }
  });

  it('search finds a tool by name', async () => {
    const page = await open('/');
    try {
      await page.locator('site-search button[data-open-modal]').first().click();
      const input = page.locator('#starlight__search input');
      await input.fill('start_code_interpreter_session');
      const hit = page
        .locator('.pagefind-ui__result-link', { hasText: 'start_code_interpreter_session' })
        .first();
      await hit.waitFor({ timeout: 20_000 });
      expect(await hit.getAttribute('href')).toContain(TOOL_PAGE);
    } finally {
      await page.close();
    }
  });

  for (const [kind, path] of Object.entries(PAGES)) {
    it(`${kind} page: screenshots at desktop and phone width, no serious axe violations`, async () => {
      for (const [label, width] of Object.entries(WIDTHS)) {
        const page = await open(path, width);
        try {
          await page.screenshot({ path: join(ARTIFACTS, `${kind}-${label}.png`), fullPage: true });
          expect(existsSync(join(ARTIFACTS, `${kind}-${label}.png`))).toBe(true);
          // Nothing wider than the screen: the page must not scroll sideways on a phone.
          const [scrollWidth, innerWidth] = await page.evaluate(() => [
            document.documentElement.scrollWidth,
            window.innerWidth,
          ]);
          expect(scrollWidth, `${path} at ${width} px`).toBeLessThanOrEqual(innerWidth);
          if (label !== 'desktop') continue;
          await page.addScriptTag({ path: createRequire(import.meta.url).resolve('axe-core/axe.min.js') });
          const violations = await page.evaluate(async () => {
            // biome-ignore lint/suspicious/noExplicitAny: axe is injected into the page at run time
            const axe = (window as any).axe;
            const r = await axe.run(document, { resultTypes: ['violations'] });
            return r.violations.map((v: { id: string; impact: string; nodes: { target: string[] }[] }) => ({
              id: v.id,
              impact: v.impact,
              targets: v.nodes.slice(0, 5).map((n) => n.target.join(' ')),
            }));
          });
          const serious = violations.filter(
            (v: { impact: string }) => v.impact === 'serious' || v.impact === 'critical',
          );
          expect(serious, `${path}: ${JSON.stringify(serious, null, 2)}`).toEqual([]);
        } finally {
          await page.close();
        }
      }
    });
  }
});
