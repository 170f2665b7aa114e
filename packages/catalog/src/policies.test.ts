import { loadPolicy } from '@tollgate/policy';
import { describe, expect, it } from 'vitest';
import {
  amountField,
  recommendedPolicy,
  recommendedRule,
  recommendedRules,
  starterPolicy,
} from './policies.js';
import type { CatalogServer, CatalogTool } from './types.js';

const t = (name: string, description: string, props: Record<string, unknown> = {}): CatalogTool => ({
  name,
  description,
  inputSchema: { type: 'object', properties: props },
});
const server: CatalogServer = {
  id: 'shop',
  name: 'Shop',
  package: { registry: 'npm', name: 'shop-mcp', version: '1.2.3' },
  tools: [
    t('list_orders', 'Lists orders.'),
    t('update_order', 'Updates an order.'),
    t('run_script', 'Runs a script.', { script: { type: 'string' } }),
    t('delete_order', 'Deletes an order permanently.'),
    t('create_refund', 'Refunds a charge.', { amount: { type: 'integer' }, charge: { type: 'string' } }),
    t('create_invoice', 'Creates an invoice.', { customer: { type: 'string' } }),
  ],
};

function compile(yaml: string) {
  const r = loadPolicy(yaml, { filename: 'starter.yaml' });
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.policy;
}

describe('recommendedRule', () => {
  it('Execute: allow, 10 per rolling 60 s, required args (issue 5)', () => {
    expect(recommendedRule(server.tools[2]!, { category: 'Execute' })).toEqual({
      name: 'execute rate limit',
      action: 'allow',
      rate_limit: { max: 10, window: 60 },
      validate: { required_args: true },
    });
  });
  it('Destructive: deny with a message', () => {
    const r = recommendedRule(server.tools[3]!, { category: 'Destructive' });
    expect(r.action).toBe('deny');
    expect(r.on_deny).toContain('delete_order is destructive');
  });
  it('Read and Write: rate limits, Write validated', () => {
    expect(recommendedRule(server.tools[0]!, { category: 'Read' }).rate_limit).toEqual({
      max: 60,
      window: 60,
    });
    expect(recommendedRule(server.tools[1]!, { category: 'Write' })).toMatchObject({
      rate_limit: { max: 20, window: 60 },
      validate: { required_args: true },
    });
  });
  it('Financial with an amount: a daily call cap and amount caps with a day counter', () => {
    const rules = recommendedRules(server.tools[4]!, { category: 'Financial' });
    expect(rules).toHaveLength(2);
    expect(rules[0]).toMatchObject({ rate_limit: '10/day', validate: { required_args: true } });
    // No on_deny: it would lead a denial for bad arguments too (the default messages name the check).
    expect(rules[0]).not.toHaveProperty('on_deny');
    expect(rules[1]).toMatchObject({
      conditions: [
        { path: 'args.amount', op: 'lte', value: 10_000 },
        { path: 'state.create_refund.daily_amount', op: 'lte', value: 50_000 },
      ],
      state: { counter: 'daily_amount', window: 'day', increment_from: 'args.amount' },
    });
  });
  it('Financial without an amount: the call cap only', () => {
    expect(recommendedRules(server.tools[5]!, { category: 'Financial' })).toHaveLength(1);
  });
  it("lists the evidence for the tool's category first and labels a piece for another category", () => {
    const { yaml } = starterPolicy(
      { ...server, id: 'news', tools: [{ name: 'toggle_updates', description: 'x', inputSchema: {} }] },
      {
        classify: () => ({
          category: 'Write',
          risk: 'Medium',
          confidence: 0.5,
          overridden: false,
          evidence: [
            { kind: 'description', detail: '"subscription"', category: 'Financial', weight: 5 },
            { kind: 'name', detail: 'toggle', category: 'Write', weight: 4.5 },
            { kind: 'description', detail: '"updates"', category: 'Write', weight: 2 },
          ],
        }),
      },
    );
    expect(yaml).toContain(
      '# evidence: name toggle, description "updates", description "subscription" (Financial)\n',
    );
  });

  it("says in the tool's comment whether its amounts are capped, and why not", () => {
    const money = { type: 'object', properties: { amount: { type: 'integer' } } };
    const emitted = (name: string, inputSchema: Record<string, unknown>) =>
      starterPolicy(
        { ...server, id: 'pay', tools: [{ name, description: 'Sends money.', inputSchema }] },
        {
          classify: () => ({
            category: 'Financial',
            risk: 'Critical',
            confidence: 1,
            evidence: [],
            overridden: false,
          }),
        },
      );
    const capped = emitted('send_money', money);
    expect(capped.yaml).toContain(
      '# Financial (Critical risk): moves money; calls per UTC day and amounts are capped.',
    );
    expect(capped.document.tools!.send_money!.rules).toHaveLength(2);
    // A dotted tool name scopes its counter too: the counter is the path's last segment.
    const dotted = emitted('pay.send', money);
    expect(dotted.yaml).toContain(
      '# Financial (Critical risk): moves money; calls per UTC day and amounts are capped.',
    );
    expect(dotted.document.tools!['pay.send']!.rules![1]).toMatchObject({
      conditions: [
        { path: 'args.amount', op: 'lte', value: 10_000 },
        { path: 'state.pay.send.daily_amount_pay', op: 'lte', value: 50_000 },
      ],
    });
    const loaded = loadPolicy(dotted.yaml);
    expect(loaded.ok).toBe(true);
    if (loaded.ok) expect([...loaded.policy.counters.keys()]).toEqual(['pay.send.daily_amount_pay']);
    expect(emitted('send_money', { type: 'object', properties: { to: { type: 'string' } } }).yaml).toContain(
      '# Financial (Critical risk): moves money; calls per UTC day are capped (its inputSchema has no numeric amount field to cap).',
    );
  });
  it('finds numeric amount fields only', () => {
    expect(amountField({ properties: { amount: { type: 'string' } } })).toBeUndefined();
    expect(amountField({ properties: { unit_amount: { type: ['integer', 'null'] } } })).toBe('unit_amount');
    expect(amountField({ properties: { amount_off: { type: 'integer' } } })).toBe('amount_off');
  });
  it('an optional amount: the on_deny says a call without it is refused too', () => {
    const optional = recommendedRules(server.tools[4]!, { category: 'Financial' })[1]!;
    expect(optional.on_deny).toBe(
      'create_refund: amount is capped at 10000 per call and 50000 per UTC day; a call that leaves amount out is refused too (the amount it would move is unknown)',
    );
    const required = {
      ...server.tools[4]!,
      inputSchema: { ...server.tools[4]!.inputSchema, required: ['amount'] },
    };
    expect(recommendedRules(required, { category: 'Financial' })[1]!.on_deny).toBe(
      'create_refund: amount is capped at 10000 per call and 50000 per UTC day',
    );
  });
});

describe('rule names', () => {
  it('end with the server id, so two servers with one tool name keep separate rate-limit buckets', () => {
    const tool = t('create_issue', 'Creates an issue.', { title: { type: 'string' } });
    const of = (id: string) =>
      compile(starterPolicy({ id, name: id, tools: [tool] }).yaml).exact.get('create_issue')!.rules[0]!;
    expect(of('github').name).toBe('write rate limit (github)');
    expect(of('gitlab').name).toBe('write rate limit (gitlab)');
    // The bucket key holds the tool key and the rule name (docs/policy-reference.md).
    expect(of('github').rateLimit?.key).not.toBe(of('gitlab').rateLimit?.key);
    expect(recommendedRule(tool, { category: 'Write' }).name).toBe('write rate limit');
  });
  it("give the Financial day counter the server id too, so two servers' money totals stay apart", () => {
    const refund = server.tools[4]!;
    const counterOf = (id: string) =>
      compile(starterPolicy({ id, name: id, tools: [refund] }).yaml).exact.get('create_refund')!.rules[1]!
        .state!.id;
    expect(counterOf('stripe-0.2.5')).toBe('create_refund.daily_amount_stripe_0_2_5');
    expect(counterOf('payments')).toBe('create_refund.daily_amount_payments');
  });
});

describe('recommendedPolicy', () => {
  it('compiles with the real compiler and carries the rule', () => {
    const { document, yaml } = recommendedPolicy(server, server.tools[4]!);
    expect(document.version).toBe('1');
    const policy = compile(yaml);
    const entry = policy.exact.get('create_refund')!;
    expect(entry.rules.map((r) => r.name)).toEqual([
      'financial daily call cap (shop)',
      'financial amount caps (shop)',
    ]);
    expect(entry.rules[0]!.rateLimit).toMatchObject({ kind: 'fixed', max: 10, window: 'day' });
    expect(entry.rules[1]!.state).toMatchObject({
      id: 'create_refund.daily_amount_shop',
      incrementFrom: ['amount'],
    });
  });
});

describe('starterPolicy', () => {
  it('writes no control character from the server into the file: escapes in descriptions become \\uXXXX', () => {
    const { yaml } = starterPolicy({
      id: 'evil',
      name: 'evil',
      tools: [
        {
          name: 'read_\u001b[31mred',
          description: '\u001b]0;PWNED\u0007\u001b[2JReads a file.\nSecond line \u202eevil\u202c.',
          inputSchema: { type: 'object', properties: { ['p\u001b[1m']: { type: 'string' } } },
        },
      ],
    });
    expect(yaml).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e]/);
    expect(yaml).toContain('# \\u001b]0;PWNED\\u0007\\u001b[2JReads a file.');
    expect(yaml).toContain('# Second line \\u202eevil\\u202c.');
    const loaded = loadPolicy(yaml, { filename: 'evil.yaml' });
    expect(loaded.ok && [...loaded.policy.exact.keys()]).toEqual(['read_\u001b[31mred']);
  });

  it('lists every tool with its rule and a comment saying why', () => {
    const { document, yaml } = starterPolicy(server);
    expect(Object.keys(document.tools!)).toEqual([
      'create_invoice',
      'create_refund',
      'delete_order',
      'list_orders',
      'run_script',
      'update_order',
    ]);
    expect(yaml).toContain('# Tollgate starter policy for shop (shop-mcp@1.2.3).');
    expect(yaml).toContain(
      '# Deletes an order permanently.\n  # Destructive (Critical risk): deletes or destroys',
    );
    expect(yaml).toMatch(/# evidence: name run/);
    const policy = compile(yaml);
    expect(policy.default).toBe('allow');
    expect(policy.exact.get('delete_order')!.rules[0]!.action).toBe('deny');
    expect(policy.exact.get('run_script')!.rules[0]!.rateLimit).toMatchObject({
      kind: 'sliding',
      max: 10,
      windowMs: 60_000,
    });
  });

  it('warns in its header that Execute tools may do what the denied Destructive tools do', () => {
    const { yaml } = starterPolicy(server);
    expect(yaml).toContain(
      '# Note: "run_script" runs code, queries, commands or jobs and may be able to do what the denied Destructive tools do: restrict its arguments with conditions (docs/policy-reference.md) or hide it.\n',
    );
    // Without a denied tool there is nothing to get around; one tool is "1 tool".
    const single = starterPolicy({ id: 'x', name: 'x', tools: [server.tools[2]!] }).yaml;
    expect(single).not.toContain('# Note:');
    expect(single).toContain('# 1 tool: 1 Execute.\n');
    const many = starterPolicy({
      id: 'y',
      name: 'y',
      tools: [server.tools[3]!, ...Array.from({ length: 8 }, (_, i) => t(`run_job_${i}`, 'Runs a job.'))],
    }).yaml;
    expect(many).toContain(
      '# Note: "run_job_0", "run_job_1", "run_job_2", "run_job_3", "run_job_4", "run_job_5" and 2 more run code,',
    );
  });
});

describe('tools whose result carries live credentials (secrets note)', () => {
  const env: CatalogTool = {
    ...t('get_env', 'Returns the environment.'),
    secrets: { reason: 'Returns every environment variable of the server.' },
  };
  it('are denied by the recommendation whatever their category, saying why', () => {
    expect(recommendedRules(env, { category: 'Read' }, 'dev')).toEqual([
      {
        name: 'returns secrets: denied by default (dev)',
        action: 'deny',
        on_deny:
          'get_env returns live credentials and is denied by this policy; ask a human to do it or change the policy',
      },
    ]);
    expect(recommendedRules(env, { category: 'Financial' })[0]!.action).toBe('deny');
  });
  it('are named in the starter policy header and commented with what they return', () => {
    const policy = starterPolicy({ id: 'dev', name: 'Dev', tools: [env, t('list_files', 'Lists files.')] });
    expect(policy.yaml).toContain(
      '# Denied as it returns live credentials (a rate limit does not protect a secret one call hands over): "get_env".',
    );
    expect(policy.yaml).toContain(
      '  # Read (High risk: its result carries live credentials): returns every environment variable of the server: live credentials, denied until a human decides otherwise.\n',
    );
    const loaded = loadPolicy(policy.yaml, { filename: 'dev.yaml' });
    expect(loaded.ok).toBe(true);
    expect(policy.document.tools?.list_files?.rules?.[0]?.action).toBe('allow');
    expect(starterPolicy(server).yaml).not.toContain('live credentials');
  });
});
