/** `loadPolicy`: parse + validate + compile in one step, for the CLI and the runtime. */

import { compilePolicy } from './compile.js';
import type { CompiledPolicy } from './compiled.js';
import type { PolicyError } from './errors.js';
import { type ParseOptions, parsePolicy } from './parse.js';
import type { PolicyDocument } from './schema.js';

/** The result of {@link loadPolicy}. */
export type LoadResult =
  | { ok: true; policy: CompiledPolicy; document: PolicyDocument; warnings: PolicyError[] }
  | { ok: false; errors: PolicyError[]; warnings: PolicyError[] };

/** Parse, validate and compile policy YAML. Never throws on bad input: errors come back in the result. */
export function loadPolicy(text: string, opts: ParseOptions = {}): LoadResult {
  const parsed = parsePolicy(text, opts);
  if (parsed.errors.length > 0 || !parsed.document) {
    return { ok: false, errors: [...parsed.errors], warnings: [...parsed.warnings] };
  }
  return {
    ok: true,
    policy: compilePolicy(parsed),
    document: parsed.document,
    warnings: [...parsed.warnings],
  };
}
