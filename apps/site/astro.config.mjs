// @ts-check

import starlight from '@astrojs/starlight';
import { defineConfig } from 'astro/config';
import { attackPatterns } from './src/lib/attack-patterns.ts';
import { rehypeRepoLinks } from './src/lib/rehype-repo-links.ts';
import { repoRoot } from './src/lib/repo.ts';
import { FEATURED_DOCS, listRepoDocs } from './src/lib/repo-docs.ts';

/** Public origin of the site; sitemap and canonical URLs are built from it. */
const site = process.env.TOLLGATE_SITE_URL ?? 'https://tollgate.dev';
const repoUrl = 'https://github.com/tollgate-dev/tollgate';

export default defineConfig({
  site,
  trailingSlash: 'always',
  markdown: { rehypePlugins: [rehypeRepoLinks({ repoRoot: repoRoot(), repoUrl })] },
  // Workspace packages are read from their TypeScript sources (the `@tollgate/source` export
  // condition), so the site builds from the same code the tests exercise without a prior `tsc`.
  vite: {
    resolve: { conditions: ['@tollgate/source', 'module', 'browser', 'development|production'] },
    ssr: { resolve: { conditions: ['@tollgate/source', 'module', 'node', 'development|production'] } },
  },
  integrations: [
    starlight({
      title: 'Tollgate',
      description:
        'Tollgate puts hard limits on what AI agents can do through MCP servers, and catalogues the risk of every tool.',
      favicon: '/favicon.svg',
      social: [{ icon: 'github', label: 'GitHub', href: repoUrl }],
      customCss: ['./src/styles/site.css'],
      // Tool pages are generated; listing them in the sidebar would put 2,000 links on every page.
      sidebar: [
        {
          label: 'Docs',
          items: [
            { label: 'Quick start', link: '/docs/quick-start/' },
            { label: 'Policy reference', link: '/docs/policy-reference/' },
            { label: 'CLI reference', link: '/docs/cli-reference/' },
            { label: 'Client setup', link: '/docs/clients/' },
          ],
        },
        {
          label: 'Project docs',
          collapsed: true,
          items: listRepoDocs(repoRoot())
            .filter((d) => !FEATURED_DOCS.includes(d.id))
            .map((d) => ({ label: d.title, link: `/docs/${d.id}/` })),
        },
        {
          label: 'Catalogue',
          items: [
            { label: 'All servers', link: '/servers/' },
            { label: 'Categories', link: '/categories/' },
            { label: 'Risk levels', link: '/risks/' },
            { label: 'Tools that return credentials', link: '/secrets/' },
          ],
        },
        {
          label: 'Attack patterns',
          collapsed: true,
          items: [
            { label: 'Overview', link: '/attacks/' },
            ...attackPatterns.map((p) => ({ label: p.title, link: `/attacks/${p.slug}/` })),
          ],
        },
      ],
    }),
  ],
});
