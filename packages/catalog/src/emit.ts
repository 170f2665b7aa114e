/**
 * YAML emission of policy documents for the catalogue. Temporary local emitter until
 * `@tollgate/policy` exports `emitPolicy`; the output is plain policy version "1".
 */
import { Document, isMap, isScalar, type Pair } from 'yaml';

/** A policy condition as written. */
export interface PolicyCondition {
  path: string;
  op: 'eq' | 'neq' | 'in' | 'not_in' | 'lt' | 'lte' | 'gt' | 'gte' | 'regex' | 'contains' | 'exists';
  value: unknown;
}
/** A rule as written in policy version "1". */
export interface PolicyRule {
  name?: string;
  action?: 'evaluate' | 'allow' | 'deny';
  conditions?: PolicyCondition[];
  rate_limit?: string | { max: number; window: number | string };
  validate?: { required_args?: boolean; schema?: Record<string, unknown> };
  state?: { counter: string; window: 'minute' | 'hour' | 'day'; increment?: number; increment_from?: string };
  on_deny?: string;
}
/** A policy document as written (version "1"). */
export interface PolicyDocument {
  version: '1';
  description?: string;
  default?: 'allow' | 'deny';
  hide?: string[];
  tools?: Record<string, { rules?: PolicyRule[] }>;
}

/**
 * Emit a policy document as YAML.
 * @param options.header comment lines at the top of the file.
 * @param options.comments comment placed above each key of `tools:` (key = tool name).
 */
export function emitDocument(
  document: PolicyDocument,
  options: { header?: string; comments?: Record<string, string> } = {},
): string {
  const doc = new Document(document);
  if (options.header)
    doc.commentBefore = options.header
      .split('\n')
      .map((l) => ` ${l}`)
      .join('\n');
  const tools = doc.get('tools', true);
  if (isMap(tools) && options.comments) {
    for (const pair of tools.items as Pair[]) {
      const key = isScalar(pair.key) ? String(pair.key.value) : undefined;
      if (key !== undefined && isScalar(pair.key) && options.comments[key])
        pair.key.commentBefore = options.comments[key];
    }
  }
  return doc.toString({ lineWidth: 0, flowCollectionPadding: true });
}
