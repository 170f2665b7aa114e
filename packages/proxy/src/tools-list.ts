/**
 * `tools/list` handling (MCP spec 2025-11-25, "Tools > Listing Tools"): hidden tools are
 * removed from every page; everything else in the result (`nextCursor`, `_meta`, unknown
 * members) is kept. The tools seen are remembered so the engine can validate arguments
 * against their `inputSchema`.
 */

/** A tool as listed by the server; only `name` and `inputSchema` matter here. */
export interface ListedTool {
  name: string;
  inputSchema?: unknown;
  [key: string]: unknown;
}

/** Result of filtering one `tools/list` response. */
export interface FilteredToolsList {
  /** Bytes to send to the client: the original bytes when nothing was removed. */
  readonly bytes: Buffer;
  /** Every tool on the page, hidden or not (for schema caching). */
  readonly tools: readonly ListedTool[];
  /** Names removed from the page. */
  readonly removed: readonly string[];
  /** True for the last page of a listing: a result without a `nextCursor`. */
  readonly last: boolean;
}

/**
 * Filters one `tools/list` response.
 *
 * @param bytes the raw JSON-RPC response from the server.
 * @param isHidden the policy's `hide` test.
 * @returns the bytes to forward; malformed results (no `result.tools` array) pass unchanged,
 *   since the client must see the server's own shape to report it.
 */
export function filterToolsList(bytes: Buffer, isHidden: (tool: string) => boolean): FilteredToolsList {
  let message: { result?: { tools?: unknown } };
  try {
    message = JSON.parse(bytes.toString('utf8'));
  } catch {
    return { bytes, tools: [], removed: [], last: false };
  }
  const list = message.result?.tools;
  if (!Array.isArray(list)) return { bytes, tools: [], removed: [], last: false };
  const last = typeof (message.result as { nextCursor?: unknown }).nextCursor !== 'string';
  const tools: ListedTool[] = [];
  const kept: unknown[] = [];
  const removed: string[] = [];
  for (const tool of list) {
    const name = (tool as { name?: unknown } | null)?.name;
    if (typeof name !== 'string') {
      kept.push(tool);
      continue;
    }
    tools.push(tool as ListedTool);
    if (isHidden(name)) removed.push(name);
    else kept.push(tool);
  }
  if (removed.length === 0) return { bytes, tools, removed, last };
  (message.result as { tools: unknown[] }).tools = kept;
  return { bytes: Buffer.from(JSON.stringify(message), 'utf8'), tools, removed, last };
}

/** Tools seen across pages and list refreshes, keyed by name (latest definition wins). */
export class ToolCatalogue {
  private readonly byName = new Map<string, ListedTool>();

  /** Records a page of tools; returns true when something new or changed was added. */
  add(tools: readonly ListedTool[]): boolean {
    let changed = false;
    for (const t of tools) {
      if (this.byName.get(t.name) !== t) {
        this.byName.set(t.name, t);
        changed = true;
      }
    }
    return changed;
  }

  /** Every known tool. */
  all(): ListedTool[] {
    return [...this.byName.values()];
  }

  /** Known tool names. */
  names(): string[] {
    return [...this.byName.keys()];
  }

  get size(): number {
    return this.byName.size;
  }
}
