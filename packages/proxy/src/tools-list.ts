/**
 * `tools/list` handling (MCP spec 2025-11-25, "Tools > Listing Tools"): hidden tools are
 * removed from every page; every other byte of the page (kept tools, `nextCursor`, `_meta`,
 * unknown members) is kept as the server wrote it. The tools seen are remembered so the engine
 * can validate arguments against their `inputSchema`.
 */
import { applyEdits, type Edit, removeElements } from './jsonrpc/json-edit.js';
import {
  elementSpans,
  lastMember,
  type MemberSpan,
  memberAt,
  objectMembers,
  type Span,
} from './jsonrpc/json-text.js';
import { readsAs } from './jsonrpc/member-names.js';

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
 * Filters one `tools/list` response. `JSON.parse` decides which tools are hidden; they are then
 * cut out of the raw text of the `tools` array with the commas between them (json-edit.ts), so
 * that the kept tools, `nextCursor`, `_meta` and every other byte reach the client as the server
 * wrote them (numbers beyond a double, such as a schema's `"maximum":18446744073709551615`,
 * included). Which tools are hidden is read from the last `tools` member of `result`, the one
 * `JSON.parse` reads; an earlier `tools` member (a name written twice, which decoders keeping
 * the first occurrence read) has its hidden tools cut too. A tool that writes its `name` twice (or
 * a case or invisible variant of it beside it) is cut as well: a client keeping the first would
 * read another name than the one judged. A page with none of these is passed on as it came. One
 * pass over the page's text per level (message, result, tools, each tool's members).
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
  const text = toolsText(bytes, list.length);
  const tools: ListedTool[] = [];
  const removed: string[] = [];
  const hidden: boolean[] = new Array(list.length).fill(false);
  for (let k = 0; k < list.length; k++) {
    const tool = list[k];
    const name = toolName(tool);
    // A tool that writes its name twice (or a case or invisible variant of `name` beside it) is
    // read as another tool by a client that keeps the first: it is not passed on, whatever the
    // last one says (a hidden name first, `0` last, included).
    if (text?.ambiguous[k] === true) {
      removed.push(name ?? '(a tool whose name is written twice)');
      hidden[k] = true;
    }
    if (name === undefined) continue;
    tools.push(tool as ListedTool);
    if (!hidden[k] && isHidden(name)) {
      removed.push(name);
      hidden[k] = true;
    }
  }
  if (removed.length === 0 && !(text && text.toolsMembers > 1)) return { bytes, tools, removed, last };
  const edited = text && cutHiddenTools(bytes, text, hidden, isHidden);
  if (edited !== undefined) return { bytes: edited, tools, removed, last };
  // Unreachable for text `JSON.parse` accepted (the scanner reads all JSON); should it happen,
  // hiding comes first: the page is re-encoded without the hidden tools.
  (message.result as { tools: unknown[] }).tools = list.filter((_, k) => !hidden[k]);
  return { bytes: Buffer.from(JSON.stringify(message), 'utf8'), tools, removed, last };
}

/** The `name` of a listed tool, when it is an object with a string `name`. */
function toolName(tool: unknown): string | undefined {
  const name = (tool as { name?: unknown } | null)?.name;
  return typeof name === 'string' ? name : undefined;
}

/** Where a page's tools lie in its text (see {@link toolsText}). */
interface ToolsText {
  /** The members of `result`, in the order written. */
  readonly members: readonly MemberSpan[];
  /** The `tools` member `JSON.parse` read (the last), and its elements. */
  readonly read: MemberSpan;
  readonly elements: readonly Span[];
  /** How many `tools` members `result` writes (more than one: decoders differ on which counts). */
  readonly toolsMembers: number;
  /** Per element: it writes `name` more than once, counting case and invisible variants. */
  readonly ambiguous: readonly boolean[];
}

/**
 * The text of a page's `result.tools`, or undefined when it does not have the shape `JSON.parse`
 * found (`count` elements). One pass over the array's text, and one over each element's members.
 */
function toolsText(bytes: Buffer, count: number): ToolsText | undefined {
  const result = memberAt(bytes, ['result']);
  const members = result && objectMembers(bytes, result.start);
  const read = members && lastMember(members, 'tools');
  if (members === undefined || read === undefined) return undefined;
  const elements = elementSpans(bytes, read.start);
  if (elements === undefined || elements.length !== count) return undefined;
  const ambiguous = elements.map((e) => namesWrittenTwice(bytes, e));
  const toolsMembers = members.filter((m) => m.name === 'tools').length;
  return { members, read, elements, toolsMembers, ambiguous };
}

const NAME: readonly string[] = ['name'];

/** Whether the tool object at `span` writes `name` more than once, counting case and invisible variants. */
function namesWrittenTwice(bytes: Buffer, span: Span): boolean {
  if (bytes[span.start] !== 0x7b /* { */) return false;
  let names = 0;
  for (const m of objectMembers(bytes, span.start) ?? []) {
    if (m.name === 'name' || readsAs(m.name, NAME)) names++;
  }
  return names > 1;
}

/**
 * `bytes` with the elements flagged in `hidden` cut out of the raw `result.tools` array that
 * `JSON.parse` read, and hidden tools cut out of any earlier `tools` array of `result`.
 */
function cutHiddenTools(
  bytes: Buffer,
  text: ToolsText,
  hidden: readonly boolean[],
  isHidden: (tool: string) => boolean,
): Buffer {
  const edits: Edit[] = [];
  for (const m of text.members) {
    if (m.name !== 'tools') continue;
    let cuts: Edit[];
    if (m === text.read) {
      cuts = removeElements(text.elements, (k) => hidden[k]!);
    } else {
      const elements = elementSpans(bytes, m.start);
      if (elements === undefined) continue;
      const values = JSON.parse(bytes.toString('utf8', m.start, m.end)) as unknown[];
      cuts = removeElements(elements, (k) => {
        if (namesWrittenTwice(bytes, elements[k]!)) return true;
        const name = toolName(values[k]);
        return name !== undefined && isHidden(name);
      });
    }
    for (const cut of cuts) edits.push(cut);
  }
  return applyEdits(bytes, edits);
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
