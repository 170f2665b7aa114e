import { describe, expect, it } from 'vitest';
import { rehypeRepoLinks } from '../src/lib/rehype-repo-links.ts';
import { repoRoot } from '../src/lib/repo.ts';

const root = repoRoot();

type Node = { type: string; tagName?: string; properties?: Record<string, unknown>; children?: Node[] };
const a = (href: string): Node => ({ type: 'element', tagName: 'a', properties: { href }, children: [] });

function run(path: string, hrefs: string[]): string[] {
  const links = hrefs.map(a);
  const tree: Node = { type: 'root', children: [{ type: 'element', tagName: 'p', children: links }] };
  rehypeRepoLinks({ repoRoot: root, repoUrl: 'https://github.com/o/r' })()(tree, { path });
  return links.map((l) => l.properties!.href as string);
}

describe('rehypeRepoLinks', () => {
  it('sends relative links of repository docs to site pages or GitHub', () => {
    expect(
      run(`${root}/docs/policy-reference.md`, [
        'clients.md#claude-code',
        '../examples/policies',
        'no-such-doc.md',
        '../packages/policy/schema/policy.schema.json',
        'https://example.com/x',
        '#operators',
        '/docs/quick-start/',
      ]),
    ).toEqual([
      '/docs/clients/#claude-code',
      'https://github.com/o/r/tree/main/examples/policies',
      'https://github.com/o/r/blob/main/docs/no-such-doc.md',
      'https://github.com/o/r/blob/main/packages/policy/schema/policy.schema.json',
      'https://example.com/x',
      '#operators',
      '/docs/quick-start/',
    ]);
  });

  it('leaves files outside docs/ alone', () => {
    expect(run(`${root}/apps/site/src/content/docs/docs/quick-start.md`, ['../x.md'])).toEqual(['../x.md']);
  });
});
