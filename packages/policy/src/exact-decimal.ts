/**
 * Whether a decimal number's text survives being read as an IEEE 754 double (a JavaScript
 * `number`). `1098765432109876543` does not: every JavaScript reader holds it as
 * 1098765432109876500, while a server reading exact integers (Go `int64`, Python, Rust `u64`)
 * acts on the digits as sent. A comparison that used the double would judge another number than
 * the one the server receives, so the policy (a literal in the YAML) and the runtime (a number or a
 * numeric string in a call's arguments) both refuse to compare such numbers as numbers.
 */

/** A JSON number literal (RFC 8259 section 6): optional `-`, no leading zeros, fraction, exponent. */
const JSON_NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

/**
 * The canonical form of a decimal literal: sign, significant digits without leading or trailing
 * zeros, and the power of ten, e.g. `-1.50e3` and `-1500` both give `-15e2`; every zero gives `0`.
 * `text` must match {@link JSON_NUMBER} or be `String(n)` of a finite number (`1e+21`, `5e-7`).
 */
function canonicalDecimal(text: string): string {
  let s = text;
  const negative = s.charCodeAt(0) === 0x2d;
  if (negative) s = s.slice(1);
  let exponent = 0;
  const e = s.search(/[eE]/);
  if (e >= 0) {
    exponent = Number(s.slice(e + 1));
    s = s.slice(0, e);
  }
  const dot = s.indexOf('.');
  if (dot >= 0) {
    exponent -= s.length - dot - 1;
    s = s.slice(0, dot) + s.slice(dot + 1);
  }
  let start = 0;
  while (start < s.length && s.charCodeAt(start) === 0x30) start++;
  let end = s.length;
  while (end > start && s.charCodeAt(end - 1) === 0x30) end--;
  if (start === end) return '0';
  exponent += s.length - end;
  return `${negative ? '-' : ''}${s.slice(start, end)}e${exponent}`;
}

/**
 * True when `text` is a JSON number literal whose value a double holds exactly as written, i.e.
 * reading it as a `number` and printing that number gives the same decimal value back: `100`,
 * `-2.5`, `1e3`, `0.1`, `9007199254740992`. False for literals that round
 * (`1098765432109876543`, `9007199254740993`, `100.00000000000000001`), that overflow (`1e400`) or
 * underflow to zero (`1e-400`), and for anything that is not a JSON number literal (`+5`, `05`).
 */
export function isExactDecimal(text: string): boolean {
  if (!JSON_NUMBER.test(text)) return false;
  const n = Number(text);
  if (!Number.isFinite(n)) return false;
  return canonicalDecimal(text) === canonicalDecimal(String(n));
}

/**
 * A YAML number's text as a JSON number literal (`+1.5` -> `1.5`, `.5` -> `0.5`, `1.` -> `1`,
 * `007` -> `7`), or undefined for forms that are not decimal (`0x1F`, `0o17`, `.inf`).
 */
export function yamlNumberLiteral(written: string): string | undefined {
  const m = /^([-+]?)(\d*)(?:\.(\d*))?(?:[eE]([-+]?\d+))?$/.exec(written);
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) return undefined;
  const int = m[2]!.replace(/^0+(?=\d)/, '') || '0';
  const frac = m[3] ? `.${m[3]}` : '';
  return `${m[1] === '-' ? '-' : ''}${int}${frac}${m[4] !== undefined ? `e${m[4]}` : ''}`;
}
