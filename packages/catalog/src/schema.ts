/**
 * The zod 4 schema of one catalogue file, `catalog/<server-id>.yaml`. Content schema first: the
 * loader, the importer and the website all validate against this one definition.
 */
import { z } from 'zod';
import type { CatalogServer } from './types.js';

const category = z.enum(['Read', 'Write', 'Execute', 'Destructive', 'Financial']);

/** MCP `ToolAnnotations`: known hints are booleans; unknown keys pass through untouched. */
export const toolAnnotationsSchema = z.looseObject({
  title: z.string().optional(),
  readOnlyHint: z.boolean().optional(),
  destructiveHint: z.boolean().optional(),
  idempotentHint: z.boolean().optional(),
  openWorldHint: z.boolean().optional(),
});

/** A manual category override: both the category and a non-empty reason are required. */
export const categoryOverrideSchema = z.strictObject({
  value: category,
  reason: z.string().trim().min(1, 'an override must say why (reason)'),
});

/** A curated note that the tool's result carries live secrets; the reason says which. */
export const secretsNoteSchema = z.strictObject({
  reason: z.string().trim().min(1, 'a secrets note must say what the result carries (reason)'),
});

/** One tool entry. `description` is our own one sentence of at most 25 words. */
export const catalogToolSchema = z.strictObject({
  name: z.string().min(1),
  title: z.string().optional(),
  description: z
    .string()
    .trim()
    .min(1, 'description is required')
    .refine((d) => d.split(/\s+/).filter(Boolean).length <= 25, 'description is longer than 25 words'),
  // Recorded as the server lists it. The MCP spec requires `type: "object"`; a few real servers
  // (e.g. @modelcontextprotocol/server-gitlab 2025.4.25) omit `type`, so absence is tolerated.
  inputSchema: z.record(z.string(), z.unknown()).refine((s) => s.type === undefined || s.type === 'object', {
    message: 'inputSchema must be a JSON Schema with type "object" (MCP spec, Tool.inputSchema)',
  }),
  annotations: toolAnnotationsSchema.optional(),
  category: categoryOverrideSchema.optional(),
  secrets: secretsNoteSchema.optional(),
});

/** How the catalogued server was launched when scanned. */
export const catalogLaunchSchema = z.strictObject({
  command: z.string().min(1),
  args: z.array(z.string()),
  env: z.record(z.string(), z.string()).optional(),
  cwd: z.literal('package').optional(),
  npx: z.string().optional(),
  note: z.string().optional(),
});

/** A whole catalogue file. Tool names must be unique within a server. */
export const catalogServerSchema = z
  .strictObject({
    id: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, 'id must be lower-case letters, digits, ".", "_" or "-"'),
    name: z.string().min(1),
    description: z.string().optional(),
    package: z.strictObject({
      registry: z.enum(['npm', 'pypi']),
      name: z.string().min(1),
      version: z.string().optional(),
    }),
    repository: z.string().optional(),
    license: z.string().optional(),
    launch: catalogLaunchSchema.optional(),
    source: z
      .strictObject({
        snapshot: z.string().optional(),
        protocolVersion: z.string().optional(),
        serverInfo: z.looseObject({ name: z.string(), version: z.string().optional() }).optional(),
        scannedAt: z.string().optional(),
        commit: z.string().optional(),
      })
      .optional(),
    tools: z.array(catalogToolSchema),
  })
  .superRefine((server, ctx) => {
    const seen = new Set<string>();
    server.tools.forEach((tool, i) => {
      if (seen.has(tool.name))
        ctx.addIssue({
          code: 'custom',
          path: ['tools', i, 'name'],
          message: `duplicate tool "${tool.name}"`,
        });
      seen.add(tool.name);
    });
  });

// Compile-time check that the schema and the hand-written interface agree.
type Parsed = z.infer<typeof catalogServerSchema>;
const _agree: (p: Parsed) => CatalogServer = (p) => p;
void _agree;
