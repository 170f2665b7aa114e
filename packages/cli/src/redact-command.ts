/**
 * A server command line as Tollgate may show it (the start-up log line on stderr, `server_command`
 * in the decision log, `tollgate status`): servers are often given their credentials as arguments
 * (`--api-key=sk_live_...`, `--access-token TOKEN`), and both places are read by others (an MCP
 * client's log files; the decision log, which an agent with a file-reading tool may reach). The
 * command itself is run as given; only what is shown is masked.
 */
import { redactUrl } from '@tollgate/proxy';

/** Option and variable names whose value is a credential: they end in one of these words. */
const SECRET_NAME = /(?:key|token|secret|password|passwd|pwd|credentials?|auth|authorization|cookie)$/i;

/**
 * Well-known token shapes, masked wherever they stand (a positional argument such as
 * `server start sk_live_...`): Stripe, GitHub, GitLab, Slack, AWS access key ids, npm, Neon,
 * DigitalOcean, OpenAI/Anthropic-style keys, JWTs.
 */
const TOKEN_SHAPE =
  /^(?:(?:sk|rk|pk)_(?:live|test)_\w+|gh[pousr]_\w{20,}|github_pat_\w+|glpat-[\w-]{20,}|xox[abposr]-[\w-]+|AKIA[0-9A-Z]{16}|npm_\w{30,}|napi_\w{20,}|dop_v1_\w+|sk-(?:ant-)?[\w-]{20,}|eyJ[\w-]+\.[\w-]+\.[\w-]+)$/;

const MASK = '***';

/**
 * `argv` with the credentials it shows masked as `***`:
 * - the value of an option whose name ends in a secret word (`key`, `token`, `secret`, `password`,
 *   `credentials`, `auth`...), given as `--api-key=VALUE` or as `--api-key VALUE`;
 * - the value of a `NAME=VALUE` word whose name does (`API_KEY=...`, as `env` takes them);
 * - a URL's query values and user information (`redactUrl`);
 * - a word shaped like a well-known token (`sk_live_...`, `ghp_...`, `xoxb-...`, a JWT).
 * The first word (the executable) is kept as it is. Short options (`-t TOKEN`) cannot be told
 * from others and are kept.
 *
 * @returns a new array of the same length
 */
export function redactCommand(argv: readonly string[]): string[] {
  const out: string[] = [];
  let maskNext = false;
  argv.forEach((word, i) => {
    if (i === 0) {
      out.push(word);
      return;
    }
    if (maskNext) {
      maskNext = false;
      out.push(MASK);
      return;
    }
    const option = /^--?([A-Za-z][\w.-]*)(=(.*))?$/s.exec(word);
    if (option && word.startsWith('--') && SECRET_NAME.test(option[1]!)) {
      if (option[2] !== undefined) out.push(`--${option[1]}=${MASK}`);
      else {
        out.push(word);
        maskNext = true;
      }
      return;
    }
    const assignment = /^([A-Za-z_][\w.-]*)=(.*)$/s.exec(word);
    if (assignment && SECRET_NAME.test(assignment[1]!)) {
      out.push(`${assignment[1]}=${MASK}`);
      return;
    }
    if (TOKEN_SHAPE.test(word)) {
      out.push(MASK);
      return;
    }
    if (/^[a-z][a-z0-9+.-]*:\/\/\S+$/i.test(word) && /[?@]/.test(word)) {
      out.push(redactUrl(word));
      return;
    }
    out.push(word);
  });
  return out;
}
