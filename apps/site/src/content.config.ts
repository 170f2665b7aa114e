import { defineCollection } from 'astro:content';
import { docsLoader } from '@astrojs/starlight/loaders';
import { docsSchema } from '@astrojs/starlight/schema';
import { glob } from 'astro/loaders';

/**
 * `docs`: Starlight's own pages (quick start, CLI reference).
 * `repoDocs`: the repository's `docs/*.md` (policy reference, client setup, internals), rendered with Astro's
 * Markdown pipeline so the site always shows what the repository documents. Only a handful of
 * files; the catalogue itself is not a collection (see src/lib/catalog.ts for why).
 */
export const collections = {
  docs: defineCollection({ loader: docsLoader(), schema: docsSchema() }),
  repoDocs: defineCollection({
    loader: glob({ pattern: '*.md', base: '../../docs' }),
  }),
};
