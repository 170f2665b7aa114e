/**
 * The JSON document a command run with `--json` prints when it fails before producing its
 * output, in the shape of `tollgate validate --json`'s failure: `{ ok: false, errors, warnings }`.
 */

/** One problem in a {@link JsonFailure}. */
export interface JsonFailureError {
  /**
   * Stable code: `usage` (a command line commander or the command refused), `scan-timeout`,
   * `scan-failed`, `catalogue` (init: the `--server` entry cannot be used; catalog stats: no
   * catalogue in `--dir`, or a catalogue file that does not load), `cannot-write`, `internal`.
   */
  code: string;
  /** Human-readable, one line where possible. */
  message: string;
  /** For `usage`: commander's error code, e.g. `commander.unknownOption`. */
  reason?: string;
  /** The file the problem is in, when it is one file (a catalogue file that does not load). */
  file?: string;
  /** 1-based line and column of the first problem in `file`, when known. */
  line?: number;
  column?: number;
}

/** What a failing `--json` run prints (one object, indented, then a newline). */
export interface JsonFailure {
  ok: false;
  errors: JsonFailureError[];
  warnings: [];
}

/** The text of a {@link JsonFailure} with the given errors, newline-terminated. */
export function jsonFailureText(...errors: JsonFailureError[]): string {
  const out: JsonFailure = { ok: false, errors, warnings: [] };
  return `${JSON.stringify(out, null, 2)}\n`;
}
