/**
 * YAML emitter for policy documents: what `tollgate init`, the catalogue's starter policies and
 * the website print. Key order is fixed (version, description, default, hide, tools; inside a
 * rule: name, action, conditions, rate_limit, validate, state, on_deny), so the same document
 * always prints the same text and diffs stay small.
 */
import { Document, isMap, isPair, isScalar, isSeq, type Pair, visit } from 'yaml';
import type { PolicyDocument } from './schema.js';
import { goNumberValue } from './yaml-source.js';

/** Options for {@link emitPolicy}. */
export interface EmitOptions {
  /** Comment lines placed above a tool entry, keyed by tool key (exact name, glob or "*"). */
  comments?: Record<string, string>;
  /** Comment placed at the top of the file (e.g. a `yaml-language-server: $schema=...` line). */
  header?: string;
}

const ORDER: Record<string, readonly string[]> = {
  document: ['version', 'description', 'default', 'hide', 'tools'],
  rule: ['name', 'action', 'conditions', 'rate_limit', 'validate', 'state', 'on_deny'],
  condition: ['path', 'op', 'value'],
  state: ['counter', 'window', 'increment', 'increment_from'],
  validate: ['required_args', 'schema'],
  rateLimit: ['max', 'window'],
};

const FLOW_KEYS = new Set(['rate_limit', 'state', 'validate']);

/** A mapping whose values are scalars or lists of scalars. */
function isFlat(node: unknown): boolean {
  if (!isMap(node)) return false;
  return node.items.every(
    (p) => isScalar(p.value) || (isSeq(p.value) && p.value.items.every((i) => isScalar(i))),
  );
}

function ordered(obj: unknown, order: readonly string[]): Record<string, unknown> {
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return obj as Record<string, unknown>;
  const src = obj as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const k of order) if (src[k] !== undefined) out[k] = src[k];
  // Keys outside the language (an invalid document) still print, after the known ones.
  for (const k of Object.keys(src).sort()) if (!(k in out) && src[k] !== undefined) out[k] = src[k];
  return out;
}

function orderRule(rule: unknown): unknown {
  const r = ordered(rule, ORDER.rule!);
  if (typeof r !== 'object' || r === null) return r;
  if (Array.isArray(r.conditions)) r.conditions = r.conditions.map((c) => ordered(c, ORDER.condition!));
  if (r.state !== undefined) r.state = ordered(r.state, ORDER.state!);
  if (r.validate !== undefined) r.validate = ordered(r.validate, ORDER.validate!);
  if (typeof r.rate_limit === 'object' && r.rate_limit !== null)
    r.rate_limit = ordered(r.rate_limit, ORDER.rateLimit!);
  return r;
}

/**
 * Print a policy document as YAML with stable key order. Tool entries keep their insertion
 * order (it is evaluation order for globs). Does not validate: pass it a document that
 * `loadPolicy` accepts if the output must load.
 */
export function emitPolicy(document: PolicyDocument, opts: EmitOptions = {}): string {
  const top = ordered(document, ORDER.document!);
  if (top.tools && typeof top.tools === 'object') {
    // Null prototype: a tool named `__proto__` stays a key (an assignment to {} would set the prototype).
    const tools: Record<string, unknown> = Object.create(null);
    for (const [key, entry] of Object.entries(top.tools as Record<string, unknown>)) {
      if (entry && typeof entry === 'object' && Array.isArray((entry as { rules?: unknown }).rules)) {
        tools[key] = { ...(entry as object), rules: (entry as { rules: unknown[] }).rules.map(orderRule) };
      } else tools[key] = entry;
    }
    top.tools = tools;
  }
  const doc = new Document(top, { aliasDuplicateObjects: false });
  // Small leaf mappings (a condition, `{ max, window }`, a state or validate block) read best on
  // one line, as the reference writes them; anything holding a nested mapping stays in block style.
  visit(doc, {
    // Text that Intercept's YAML would read as a number (`0_`, `3_306`) is refused plain by the
    // loader (`yaml-number-as-text`): it is written quoted, so it loads as the same text.
    Scalar(_, node) {
      if (typeof node.value === 'string' && goNumberValue(node.value) !== undefined)
        node.type = 'QUOTE_DOUBLE';
    },
    Pair(_, pair: Pair) {
      const key = isScalar(pair.key) ? String(pair.key.value) : '';
      if (key === 'conditions' && isSeq(pair.value)) {
        for (const item of pair.value.items) if (isFlat(item)) (item as { flow?: boolean }).flow = true;
      } else if (FLOW_KEYS.has(key) && isFlat(pair.value)) (pair.value as { flow?: boolean }).flow = true;
    },
  });
  if (opts.header)
    doc.commentBefore = opts.header
      .split('\n')
      .map((l) => (l ? ` ${l}` : ''))
      .join('\n');
  if (opts.comments) {
    const toolsNode = doc.get('tools', true);
    if (isMap(toolsNode)) {
      for (const pair of toolsNode.items) {
        if (!isPair(pair) || !isScalar(pair.key)) continue;
        const c = opts.comments[String(pair.key.value)];
        if (c)
          pair.key.commentBefore = c
            .split('\n')
            .map((l) => (l ? ` ${l}` : ''))
            .join('\n');
      }
    }
  }
  return doc.toString({ lineWidth: 0, indentSeq: true });
}
