import type { APIRoute, GetStaticPaths } from 'astro';
import { siteData } from '../../lib/catalog.ts';

/** Static starter policy per server: `/policies/<server-id>.yaml` (compiled at build time). */
export const getStaticPaths: GetStaticPaths = () =>
  siteData().servers.map((s) => ({ params: { id: s.id }, props: { yaml: s.starterYaml } }));

export const GET: APIRoute = ({ props }) =>
  new Response(props.yaml as string, { headers: { 'Content-Type': 'application/yaml; charset=utf-8' } });
