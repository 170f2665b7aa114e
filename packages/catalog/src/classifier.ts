/**
 * The risk classifier: a deterministic mapping from what a server says about a tool (name,
 * description, `inputSchema`, annotations) to one of five categories, with the evidence behind it.
 * No model, no network: the same tool always gets the same answer.
 *
 * How it decides (details in docs/classifier.md):
 * 1. A manual `category` override in the catalogue wins outright.
 * 2. Name tokens carry the most weight, and the leading verb of the name the most of all:
 *    `list_deleted_items` is a read even though it mentions deletion.
 * 3. Money nouns (invoice, refund, payout...) make a tool Financial only next to an acting verb;
 *    `list_invoices` stays Read.
 * 4. Description phrases, schema fields and annotations add smaller weights. Annotations are hints,
 *    not truth (MCP spec 2025-11-25, ToolAnnotations): only hints the server sets explicitly count,
 *    never the spec defaults (`destructiveHint` true, `readOnlyHint` false).
 * 5. The category with the highest total wins; ties go to the more severe category
 *    (Financial > Destructive > Execute > Write > Read). With no evidence at all the answer is
 *    Write at low confidence: an unknown tool may change state (the spec's `readOnlyHint` default).
 */
import { nameTokens, words } from './tokens.js';
import type { CatalogTool, Category, Risk, ToolAnnotations } from './types.js';
import { CATEGORIES, RISK_OF, RISKS, severity } from './types.js';

/** One piece of evidence behind a classification. */
export interface Evidence {
  /** Where it was found. */
  kind: 'name' | 'description' | 'schema' | 'annotation' | 'override';
  /**
   * What was found: a name token (`delete`), a quoted description phrase of at most 5 words
   * (`"cannot be undone"`), a schema field (`amount`), an annotation (`readOnlyHint: true`) or
   * the override's reason.
   */
  detail: string;
  /** The category this evidence points to. */
  category: Category;
  /** Its weight in the decision (unitless, > 0). */
  weight: number;
}

/** The classifier's answer for one tool. */
export interface Classification {
  category: Category;
  /**
   * `RISK_OF[category]`, raised to High for a tool with a curated secrets note (its result hands
   * the agent a live credential, which a Read or Write category understates).
   */
  risk: Risk;
  /** 0..1: share of the winning category in all evidence, damped when there is little evidence. */
  confidence: number;
  /** Every piece of evidence found, strongest first. */
  evidence: Evidence[];
  /** True when a manual catalogue override decided. */
  overridden: boolean;
}

/** The parts of a tool the classifier reads. */
export type ClassifierInput = Pick<CatalogTool, 'name' | 'description' | 'inputSchema'> &
  Partial<Pick<CatalogTool, 'annotations' | 'category' | 'secrets'>>;

type Lexicon = Record<string, number>;

// Verbs that only observe. `generate` is here: generators return content without storing it.
const READ_VERBS: Lexicon = {
  ...lex(
    3,
    'get list search read fetch find describe view show retrieve lookup look browse inspect ' +
      'count check download export watch poll analyze analyse explain diff preview summarize summarise ' +
      'compare estimate calculate geocode reverse directions distance elevation screenshot ' +
      'snapshot whoami think thinking ping echo suggest recommend scrape crawl ' +
      'extract map research ask answer reason convert validate lint verify test ' +
      'discover audit tail grep navigate_back wait generate render expect assert ' +
      'forward_geocode measure trace profile recall open_nodes search_nodes read_graph',
  ),
  // `query` alone is usually a read (`query_logs`); a SQL field in the schema outweighs it.
  query: 2,
};
const READ_NOUNS: Lexicon = lex(
  1.5,
  'info details status metadata logs stats usage schema docs documentation inference embedding ' +
    'embeddings generation completion completions network history console current me',
);
// Verbs that change state, recoverably.
const WRITE_VERBS: Lexicon = lex(
  3,
  'create add update set put post patch edit modify change move rename upload send assign unassign ' +
    'mark publish archive unarchive restore insert upsert save write append comment reply forward copy ' +
    'clone fork merge import link unlink attach enable disable toggle subscribe unsubscribe invite share ' +
    'label tag star unstar pin unpin lock unlock approve reject close reopen resize scale navigate click ' +
    'type fill press hover select drag scroll go reload login connect disconnect protect unprotect ' +
    'register schedule configure transition resolve react commit push pull checkout stage stash ' +
    'rebase cherry init initialize draft duplicate submit promote tab tabs ' +
    'focus downgrade annotate complete accept decline mute unmute ' +
    'follow unfollow vote handle_dialog file_upload emulate sort reorder dismiss snooze unmerge ' +
    'reauthorize detach stop pause resume sync synchronize replace transfer',
);
// Verbs that destroy. `logout` and `rotate` revoke a session or the old secret.
const DESTRUCTIVE_VERBS: Lexicon = lex(
  4,
  'delete remove drop destroy purge revoke terminate kill uninstall truncate wipe erase clear ' +
    'overwrite deprovision decommission evict flush prune cleanup clean rm del unpublish discard ' +
    'abort cancel reset deactivate nuke expire invalidate logout rotate shred dropdb ' +
    // Formatting a storage device erases it (`format_code` is not in the list).
    'format_disk format_volume format_drive format_partition',
);
// Verbs that run code, jobs or deployments.
const EXECUTE_VERBS: Lexicon = lex(
  4,
  'run execute exec eval evaluate invoke trigger dispatch deploy build rerun retry call launch spawn ' +
    'start restart interpret compile migrate install upgrade apply aggregate rollback kubectl_exec port_forward ' +
    'boot power_on',
);
// Nouns of runnable things: count, but never as the tool's leading verb.
const EXECUTE_NOUNS: Lexicon = lex(
  2.5,
  'sql script code shell bash python javascript js command cmd terminal interpreter process job ' +
    'pipeline helm migration',
);
// Verbs that move money by themselves.
const FINANCIAL_VERBS: Lexicon = lex(5, 'pay charge refund payout purchase buy sell bill withdraw wire');
// Nouns that make an acting verb financial.
const FINANCIAL_NOUNS = new Set(
  (
    'invoice invoices payment payments charge charges refund refunds payout payouts subscription ' +
    'subscriptions purchase purchases billing transfer transfers price prices coupon coupons credit ' +
    'credits paymentintent paymentlink payment_link dispute disputes money funds'
  ).split(/\s+/),
);
// Tokens that are verbs or nouns (`eval` in `genai-model-eval-list-runs`, `build` in
// `pipelines_build_log`): they lead the name only when no unambiguous verb appears in it.
const WEAK_VERBS = new Set(
  'eval evaluation build run runs snapshot test tag label comment map post type check trigger process status'.split(
    ' ',
  ),
);
// Things that run code once created or changed: provisioning them is Execute, not Write.
const COMPUTE_NOUNS = new Set(
  (
    'droplet droplets cluster clusters runtime runtimes worker workers function functions nodepool ' +
    'container containers instance instances vm vms deployment deployments pod pods lambda app apps ' +
    'run runs job jobs inference'
  ).split(' '),
);
// Compute nouns that are themselves executions: creating one starts it, updating one does not.
const RUN_NOUNS = new Set(['run', 'runs', 'job', 'jobs', 'inference']);
// Two-token nouns whose first token is also a verb.
const NOUN_PAIRS = new Set(['pull_request', 'pull_requests', 'merge_request', 'merge_requests']);
// Verbs that detach one thing from another when the name says `..._from_...`: recoverable.
const DETACH_VERBS = new Set(['remove', 'unlink', 'detach', 'delete']);

// "saves them to a local folder", "writes the resulting CSV to a local directory".
const SAVES_TO_DISK =
  /\b(sav(e|es|ing)|writ(e|es|ing)|stor(e|es|ing)) ((it|them|the|\w+) ){0,3}(to|into|onto) (a |the )?(local )?(files?|disk|directory|folder|path)\b/;

// Phrases in descriptions, matched on word boundaries. Weight is lower than the name's.
const PHRASES: Array<[RegExp, Category, number]> = [
  [/\b(permanently|irreversibl[ey]|cannot be undone|can ?not be recovered)\b/, 'Destructive', 3],
  // "erasing all data", "wipes every file": the whole of something is gone.
  [
    /\b(eras(e|es|ing)|wip(e|es|ing)|delet(e|es|ing)|destroy(s|ing)?) (all|every|the entire) (\w+ ){0,2}(data|files?|contents?|records|objects|items)\b/,
    'Destructive',
    3,
  ],
  [/\b(overwrit(e|es|ing)|(replac(e|es|ing)) (any |the |an |its )?existing)\b/, 'Destructive', 2],
  [SAVES_TO_DISK, 'Write', 5],
  // A snapshot of a stored resource is a new stored object (a page snapshot is "captured").
  [/\btak(e|es|ing) (a |an )?(\w+ ){0,2}snapshots?\b/, 'Write', 3],
  [/\b(recurring charges?|incur(s|ring)? (charges|costs)|billable|paid (plan|tier))\b/, 'Financial', 3],
  [
    /\b(delet(e|es|ing)|remov(e|es|ing)|destroy(s|ing)?|drop(s|ping)?|terminat(e|es|ing)|revok(e|es|ing)|purg(e|es|ing)|wip(e|es|ing)|eras(e|es|ing))\b/,
    'Destructive',
    1.5,
  ],
  [
    /\b(arbitrary|raw|caller-written|caller-supplied) (\w+ ){0,2}(sql|code|command|commands|quer(y|ies)|javascript|js|script|requests|mutations?)\b/,
    'Execute',
    3,
  ],
  [
    /\b(execut(e|es|ing)|runs?|running|evaluat(e|es|ing)) (a |an |the |any |custom |given |provided )?(caller-supplied |user-supplied |single )?(sql|code|command|commands|shell|script|scripts|quer(y|ies)|javascript|js|python|bash|function|workflow|pipeline|job|jobs|tests?|build)\b/,
    'Execute',
    3,
  ],
  [/\b(shell|terminal|bash) command/, 'Execute', 2],
  // Deploying code, or applying a manifest or a schema migration, puts new code or DDL to work.
  [/\b(deploy(s|ing)?|appl(y|ies|ying) (a |an |the )?(\w+ ){0,3}(manifests?|migrations?))\b/, 'Execute', 3],
  [
    /\b(charg(e|es|ing)|refund(s|ing)?|pay(s|ing)?|bill(s|ing)?) (a |an |the )?(customer|card|payment|amount|invoice|money)\b/,
    'Financial',
    3,
  ],
  [
    /\b(creat(e|es|ing)|issu(e|es|ing)|send(s|ing)?|finaliz(e|es|ing)) (a |an |the |new )?(invoice|payment|refund|payout|subscription|charge|payment link)\b/,
    'Financial',
    3,
  ],
  // Moving money, or trading: "sends money to an account", "places a market order to buy shares".
  [
    /\b(send(s|ing)?|transfer(s|ring)?|wir(e|es|ing)|mov(e|es|ing)|withdraw(s|ing)?|deposit(s|ing)?) (\w+ )?(money|funds|cash)\b/,
    'Financial',
    3,
  ],
  [
    /\b((buy(s|ing)?|sell(s|ing)?|trad(e|es|ing)) (or (buy|sell) )?(\w+ ){0,2}(shares|stocks?|securities|bonds|crypto(currency|currencies)?|futures)|(market|limit|stop) orders?)\b/,
    'Financial',
    3,
  ],
  [/\b(money|funds|payment|charge|invoice|refund|payout|subscription|billing)\b/, 'Financial', 1],
  [
    /\b(creat(e|es|ing)|add(s|ing)?|updat(e|es|ing)|modif(y|ies|ying)|edit(s|ing)?|sets?|writ(e|es|ing)|send(s|ing)?(?! (a |an |the )?(input|request|prompt|query|queries)\b)|post(s|ing)?|upload(s|ing)?|submit(s|ting)?|append(s|ing)?|puts|mov(e|es|ing)|renam(e|es|ing)|manag(e|es|ing)|adjust(s|ing)?|chang(e|es|ing)|configur(e|es|ing))\b/,
    'Write',
    1.5,
  ],
  [
    /\b(list(s|ing)?|get(s|ting)?|retriev(e|es|ing)|fetch(es|ing)?|search(es|ing)?|read(s|ing)?(?![- ]only)|return(s|ing)?|show(s|ing)?|look(s|ing)? up|find(s|ing)?|describ(e|es|ing)|view(s|ing)?)\b/,
    'Read',
    1.5,
  ],
  [/\bread-only\b|\bread only\b|\bwithout (making )?(any )?changes\b/, 'Read', 2],
  [
    /\b(comput(e|es|ing)|calculat(e|es|ing)|estimat(e|es|ing)|summariz(e|es|ing)|analy[sz](e|es|ing)|measur(e|es|ing)|captur(e|es|ing)|reports?|generat(e|es|ing)|diagnos(e|es|ing|tics?))\b/,
    'Read',
    1.5,
  ],
];

// Schema properties (top level) that say what a tool does.
const SCHEMA_FIELDS: Array<[RegExp, Category, number]> = [
  [/^(sql|sql_?query|query_?sql|statement|raw_?sql)$/i, 'Execute', 3],
  [
    /^(command|cmd|shell|script|code|source_?code|javascript|js|python|expression|function|snippet)$/i,
    'Execute',
    2.5,
  ],
  [
    /^(amount|unit_?amount|amount_?(cents|due|paid)|currency|price|payment_?method|refund_?amount)$/i,
    'Financial',
    2,
  ],
  [/^(confirm|confirmation|force|permanent|hard_?delete)$/i, 'Destructive', 1],
  [/^(content|body|text|data|value|values|fields|properties|patch|changes|new_?name|title)$/i, 'Write', 0.75],
];

function lex(weight: number, list: string): Lexicon {
  const out: Lexicon = {};
  for (const w of list.split(/\s+/)) if (w) out[w] = weight;
  return out;
}

/** Singular form good enough for lexicon lookups (`charges` -> `charge`). */
function stem(token: string): string {
  if (token.length > 4 && token.endsWith('ies')) return `${token.slice(0, -3)}y`;
  if (token.length > 3 && token.endsWith('s') && !token.endsWith('ss')) return token.slice(0, -1);
  return token;
}

function verbCategory(token: string): [Category, number] | null {
  if (Object.hasOwn(FINANCIAL_VERBS, token)) return ['Financial', FINANCIAL_VERBS[token]!];
  if (Object.hasOwn(DESTRUCTIVE_VERBS, token)) return ['Destructive', DESTRUCTIVE_VERBS[token]!];
  if (Object.hasOwn(EXECUTE_VERBS, token)) return ['Execute', EXECUTE_VERBS[token]!];
  if (Object.hasOwn(WRITE_VERBS, token)) return ['Write', WRITE_VERBS[token]!];
  if (Object.hasOwn(READ_VERBS, token)) return ['Read', READ_VERBS[token]!];
  return null;
}

interface NameFindings {
  evidence: Evidence[];
  /** Category of the first verb in the name, if any. */
  leadingVerb: Category | null;
}

// A description that opens by detaching ("Detaches droplets from a firewall", "Takes a label off
// an issue") says a `remove_*` tool breaks a relation and leaves both things in place.
const DETACH_PHRASE = /^(detach(es)?|unassigns?|takes? (\S+ ){1,4}(off|out of))\b/;

/** What a `remove/delete ... from ...` takes out: data, or from where data is kept. */
const DATA_NOUNS = new Set(
  'rows row records record files file objects object messages message items item entries entry data documents document keys key values all everything contents'.split(
    ' ',
  ),
);
const DATA_STORES = new Set(
  'table tables database db bucket buckets disk drive storage s3 cache index collection queue folder directory dir filesystem fs'.split(
    ' ',
  ),
);

/**
 * True when the `remove`/`delete` at `tokens[i]` takes data out of where it is kept
 * (`delete_rows_from_table`, `remove_files_from_disk`, `delete_from_s3`): the data is destroyed,
 * unlike a tag taken off an issue or a member off a team.
 */
function takesOutData(tokens: readonly string[], i: number): boolean {
  const from = tokens.indexOf('from', i + 1);
  const taken = tokens.slice(i + 1, from === -1 ? tokens.length : from);
  return taken.some((t) => DATA_NOUNS.has(t)) || (from !== -1 && DATA_STORES.has(tokens[from + 1] ?? ''));
}

/** Words that join two verbs of a name into two actions (`find_and_remove`, `get_or_delete`). */
const COORDINATORS = new Set(['and', 'or', 'then']);

function nameEvidence(name: string, description = ''): NameFindings {
  const detaches = DETACH_PHRASE.test(description.trim().toLowerCase());
  const tokens = nameTokens(name.replace(/OAuth/g, 'Oauth'));
  const out: Evidence[] = [];
  let leadingVerb: Category | null = null;
  let leadingToken = '';
  const hits: Array<{ index: number; detail: string; category: Category; base: number; weak: boolean }> = [];
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    // Two-token names like `kubectl_exec` or `port_forward` are looked up joined first.
    const pair = i + 1 < tokens.length ? `${token}_${tokens[i + 1]}` : '';
    // `pull_request`, `merge_request`: nouns, whatever their first token says.
    if (NOUN_PAIRS.has(pair)) {
      i++;
      continue;
    }
    const pairHit = pair ? verbCategory(pair) : null;
    // Verbs are not stemmed: `pg_locks` is about locks, not locking.
    const hit = pairHit ?? verbCategory(token);
    if (hit) {
      let [category, base] = hit;
      // `remove_tag_from_task` detaches a relation; the tag and the task both survive.
      // But `delete_rows_from_table` and `remove_files_from_disk` destroy what they take out.
      if (
        category === 'Destructive' &&
        DETACH_VERBS.has(token) &&
        (detaches || tokens.slice(i + 1).includes('from')) &&
        !takesOutData(tokens, i)
      )
        category = 'Write';
      hits.push({
        index: i,
        detail: pairHit ? pair : token,
        category,
        base,
        weak: !pairHit && WEAK_VERBS.has(token),
      });
      if (pairHit) i++;
      continue;
    }
    if (Object.hasOwn(EXECUTE_NOUNS, token))
      out.push({ kind: 'name', detail: token, category: 'Execute', weight: EXECUTE_NOUNS[token]! });
    else if (Object.hasOwn(READ_NOUNS, token))
      out.push({ kind: 'name', detail: token, category: 'Read', weight: READ_NOUNS[token]! });
  }
  // The first verb of a name is what the tool does; later ones usually describe its object
  // (`list_deleted_items`), except a more severe verb joined to an earlier one by `and`/`or`/`then`:
  // the tool does that too (`find_and_remove`, `get_or_delete`), and it weighs as much as the first
  // (`create_or_update` restates one kind of action and adds nothing).
  const lead = hits.find((h) => !h.weak) ?? hits[0];
  const coordinatedWith = (first: (typeof hits)[number] | undefined, h: (typeof hits)[number]) =>
    first !== undefined &&
    h.index > first.index &&
    COORDINATORS.has(tokens[h.index - 1]!) &&
    severity(h.category) > severity(first.category);
  for (const h of hits) {
    const coordinated = coordinatedWith(lead, h);
    out.push({
      kind: 'name',
      detail: h.detail,
      category: h.category,
      weight: h === lead || coordinated ? h.base * 1.5 : h.base * 0.5,
    });
  }
  if (lead) {
    leadingVerb = lead.category;
    leadingToken = lead.detail;
  }
  // Creating or changing something that runs code (a droplet, a cluster, an agent runtime) is Execute.
  // Only the verb's object counts: the token after it, the last token, or the one before a final verb.
  if (
    lead &&
    leadingVerb === 'Write' &&
    /^(create|update|put|install|publish|promote|upgrade|scale)$/.test(leadingToken)
  ) {
    const last = tokens.length - 1;
    const objects = lead.index === last ? [tokens[last - 1]] : [tokens[lead.index + 1], tokens[last]];
    const compute = objects.find(
      (t) => t !== undefined && COMPUTE_NOUNS.has(t) && (leadingToken === 'create' || !RUN_NOUNS.has(t)),
    );
    if (compute)
      out.push({ kind: 'name', detail: `${leadingToken} ${compute}`, category: 'Execute', weight: 6.5 });
  }
  // `download_bytes_to_file`, `export_to_disk`: the name says the result lands on disk.
  const toDisk = tokens.findIndex((t, i) => t === 'to' && /^(file|disk)$/.test(tokens[i + 1] ?? ''));
  if (toDisk > 0)
    out.push({ kind: 'name', detail: `to ${tokens[toDisk + 1]}`, category: 'Write', weight: 5 });
  // Money nouns: Financial when the tool acts on them: its leading verb, or a verb joined to it
  // (`get_and_transfer_funds`), is not a read.
  const actor = hits.find(
    (h) => (h === lead || coordinatedWith(lead, h)) && h.category !== 'Read' && h.category !== 'Financial',
  );
  // The verb itself is no money noun (`image-action-transfer`: `transfer` is what it does).
  const money = tokens.find(
    (t, k) => k !== actor?.index && (FINANCIAL_NOUNS.has(t) || FINANCIAL_NOUNS.has(stem(t))),
  );
  if (money && actor) {
    out.push({ kind: 'name', detail: `${actor.detail} ${money}`, category: 'Financial', weight: 6 });
  }
  return { evidence: out, leadingVerb };
}

/** Factor for a phrase that opens the description's first sentence. */
const LEADING_PHRASE_BONUS = 1.5;

const NEGATION = /\b(without|not|never|no|nor|doesn't|does not|won't)\s+(\w+\s+){0,2}$/;

function descriptionEvidence(description: string, scale: number, nameVerb: Category | null): Evidence[] {
  // Only the first sentence says what the tool does; later ones list caveats and options.
  const first = (description.split(/(?<=[.!?])\s+/)[0] ?? '').toLowerCase();
  const out: Evidence[] = [];
  for (const [re, category, weight] of PHRASES) {
    const global = new RegExp(re.source, 'g');
    for (const m of first.matchAll(global)) {
      // "without creating anything" is evidence against, not for.
      const before = first.slice(Math.max(0, m.index - 30), m.index);
      if (NEGATION.test(before)) continue;
      // "optionally saving it to a file", "inline or saves it": a side option, not the tool's effect.
      const optional = /\boptionally\s+$/.test(before) || (re === SAVES_TO_DISK && /\bor\s+$/.test(before));
      // The sentence's opening verb is what the tool does ("Lists builds or returns their
      // changes"), as the leading verb of a name is.
      // Not when it opens a list of operations ("Lists, creates or deletes ..."): a router. Not
      // when it restates the name's leading verb ("create_price: Creates a price"): counting the
      // same fact twice would outweigh what the name's object adds (a money noun, a compute noun).
      const lead =
        m.index === 0 && category !== nameVerb && !/^\s*(,|or\b|and\b)/.test(first.slice(m[0].length))
          ? LEADING_PHRASE_BONUS
          : 1;
      out.push({
        kind: 'description',
        detail: `"${quote(m[0])}"`,
        category,
        weight: (optional ? Math.min(weight, 1) : weight) * scale * lead,
      });
      break;
    }
  }
  return out;
}

// A description that opens with a list of three or more operations ("Creates, lists, inspects or
// removes Docker networks"): a router tool that can do each of them.
const OPERATION_LIST = /^([a-z]+s)((, [a-z]+s){1,},? (or|and) [a-z]+s)\b/;
/** Weight of the most severe operation a router lists (not scaled: it is one fact about the tool). */
const ROUTER_WEIGHT = 4.5;

/** The category of a verb in the third person (`removes`, `applies`, `pushes`), or null. */
function operationCategory(verb: string): Category | null {
  for (const base of [verb.replace(/ies$/, 'y'), verb.replace(/s$/, ''), verb.replace(/es$/, '')])
    if (!WEAK_VERBS.has(base)) {
      const hit = verbCategory(base);
      if (hit) return hit[0];
    }
  return null;
}

/**
 * A router can do the worst of what it lists: `removes` among "lists, inspects or removes" is
 * evidence as strong as a name's second verb, so a noun name (`docker-network`) or the first,
 * milder operation does not hide it.
 */
function routerEvidence(description: string): Evidence[] {
  const first = (description.split(/(?<=[.!?])\s+/)[0] ?? '').toLowerCase();
  const m = OPERATION_LIST.exec(first);
  if (!m) return [];
  let worst: Category | null = null;
  for (const verb of m[0].split(/,? (?:or|and) |, /)) {
    const c = operationCategory(verb);
    if (c && (worst === null || severity(c) > severity(worst))) worst = c;
  }
  if (!worst || worst === 'Read') return [];
  return [{ kind: 'description', detail: `"${quote(m[0])}"`, category: worst, weight: ROUTER_WEIGHT }];
}

function quote(phrase: string): string {
  return words(phrase).slice(0, 5).join(' ');
}

// A `command` property that picks one of the server's own operations is not a shell command.
const ROUTER_HINT = /\b(tool|operation|action|subcommand|sub-command)\b/i;
const SHELL_HINT = /\b(shell|terminal|bash|cli|command line|execute|run|process|exec)\b/i;

function schemaEvidence(inputSchema: Record<string, unknown>): Evidence[] {
  const props = inputSchema.properties;
  if (!props || typeof props !== 'object') return [];
  const out: Evidence[] = [];
  const seen = new Set<Category>();
  for (const [key, prop] of Object.entries(
    props as Record<string, { description?: unknown; enum?: unknown }>,
  )) {
    for (const [re, category, weight] of SCHEMA_FIELDS) {
      if (!re.test(key) || seen.has(category)) continue;
      let w = weight;
      if (/^(command|cmd)$/i.test(key)) {
        const d = typeof prop?.description === 'string' ? prop.description : '';
        if (Array.isArray(prop?.enum) || !SHELL_HINT.test(d) || ROUTER_HINT.test(d)) w = 0.5;
      }
      seen.add(category);
      out.push({ kind: 'schema', detail: key, category, weight: w });
      break;
    }
  }
  return out;
}

function annotationEvidence(a: ToolAnnotations | undefined): Evidence[] {
  if (!a) return [];
  const out: Evidence[] = [];
  if (a.readOnlyHint === true)
    out.push({ kind: 'annotation', detail: 'readOnlyHint: true', category: 'Read', weight: 4 });
  if (a.readOnlyHint !== true && a.destructiveHint === true)
    out.push({ kind: 'annotation', detail: 'destructiveHint: true', category: 'Destructive', weight: 1.5 });
  if (a.readOnlyHint === false && a.destructiveHint === false)
    out.push({ kind: 'annotation', detail: 'destructiveHint: false', category: 'Write', weight: 1 });
  return out;
}

/**
 * Classify one tool.
 * @param tool name, description, inputSchema, and optionally annotations and a manual override.
 * @returns category, risk (Read Low, Write Medium, Execute High, Destructive/Financial Critical;
 *   at least High with a secrets note), confidence in 0..1, the evidence strongest first, and
 *   whether an override decided.
 * Never throws; a tool with no recognisable evidence is Write at confidence 0.2.
 */
export function classifyTool(tool: ClassifierInput): Classification {
  const c = classifyCategory(tool);
  return tool.secrets && RISKS.indexOf(c.risk) < RISKS.indexOf('High') ? { ...c, risk: 'High' } : c;
}

function classifyCategory(tool: ClassifierInput): Classification {
  if (tool.category) {
    const { value, reason } = tool.category;
    return {
      category: value,
      risk: RISK_OF[value],
      confidence: 1,
      evidence: [{ kind: 'override', detail: reason, category: value, weight: 1 }],
      overridden: true,
    };
  }
  const name = nameEvidence(tool.name, tool.description ?? '');
  // A name without a verb (`aks`, `MatrixTool`) says little: let the description speak louder.
  const descriptionScale = name.leadingVerb === null ? 2 : 1;
  const evidence = [
    ...name.evidence,
    ...descriptionEvidence(tool.description ?? '', descriptionScale, name.leadingVerb),
    ...routerEvidence(tool.description ?? ''),
    ...schemaEvidence(tool.inputSchema ?? {}),
    ...annotationEvidence(tool.annotations),
  ].sort((a, b) => b.weight - a.weight || severity(b.category) - severity(a.category));
  if (evidence.length === 0) {
    return { category: 'Write', risk: RISK_OF.Write, confidence: 0.2, evidence, overridden: false };
  }
  const score = Object.fromEntries(CATEGORIES.map((c) => [c, 0])) as Record<Category, number>;
  for (const e of evidence) score[e.category] += e.weight;
  let best: Category = 'Read';
  for (const c of CATEGORIES) if (score[c] >= score[best]) best = c;
  const total = evidence.reduce((s, e) => s + e.weight, 0);
  const confidence = Math.round((score[best] / total) * Math.min(1, total / 6) * 100) / 100;
  return { category: best, risk: RISK_OF[best], confidence, evidence, overridden: false };
}
