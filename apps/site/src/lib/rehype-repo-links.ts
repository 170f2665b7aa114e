/**
 * A rehype plugin for the repository's `docs/*.md` rendered on the site: their relative links
 * point into the repository (`../examples/policies`, `architecture.md`), which do not exist on the
 * site. Links to other docs go to their page on the site (`/docs/<id>/`); every other relative link goes to the
 * file on GitHub. Files outside `<repo>/docs/` are left alone.
 */
import { existsSync } from 'node:fs';
import { dirname, join, posix, relative, sep } from 'node:path';

interface HastNode {
  type: string;
  tagName?: string;
  properties?: Record<string, unknown>;
  children?: HastNode[];
}

/**
 * @param options.repoRoot - absolute path of the repository
 * @param options.repoUrl - GitHub URL of the repository, e.g. `https://github.com/o/r`
 * @param options.branch - branch links point at (default `main`)
 */
export function rehypeRepoLinks(options: { repoRoot: string; repoUrl: string; branch?: string }) {
  const docsDir = join(options.repoRoot, 'docs') + sep;
  const branch = options.branch ?? 'main';
  return () => (tree: HastNode, file: { path?: string }) => {
    if (!file.path?.startsWith(docsDir)) return;
    const fromDir = relative(options.repoRoot, dirname(file.path)).split(sep).join('/');
    const walk = (node: HastNode): void => {
      const href = node.tagName === 'a' ? node.properties?.href : undefined;
      if (typeof href === 'string' && !/^([a-z][a-z0-9+.-]*:|#|\/)/i.test(href)) {
        const [path = '', hash = ''] = href.split('#');
        const target = posix.normalize(posix.join(fromDir, path));
        // Every docs/*.md is rendered at /docs/<id>/ (src/pages/docs/).
        const doc = /^docs\/([^/]+)\.md$/.exec(target);
        const rendered = doc && existsSync(join(options.repoRoot, target));
        const page = rendered ? `/docs/${doc[1]}/` : undefined;
        const anchor = hash ? `#${hash}` : '';
        node.properties!.href = page
          ? `${page}${anchor}`
          : `${options.repoUrl}/${/\.[a-z0-9]+$/i.test(target) ? 'blob' : 'tree'}/${branch}/${target}${anchor}`;
      }
      node.children?.forEach(walk);
    };
    walk(tree);
  };
}
