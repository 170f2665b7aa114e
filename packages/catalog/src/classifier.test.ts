import { describe, expect, it } from 'vitest';
import { type ClassifierInput, classifyTool } from './classifier.js';

const schema = (props: Record<string, unknown> = {}) => ({ type: 'object', properties: props });
const tool = (
  name: string,
  description = '',
  props: Record<string, unknown> = {},
  extra = {},
): ClassifierInput => ({
  name,
  description,
  inputSchema: schema(props),
  ...extra,
});

describe('classifyTool', () => {
  it.each([
    ['list_issues', 'Lists issues in a repository.', 'Read'],
    ['getUserProfile', 'Returns a user profile.', 'Read'],
    ['create-issue', 'Creates a new issue.', 'Write'],
    ['linear_updateProject', 'Updates a project.', 'Write'],
    ['delete_repository', 'Deletes a repository.', 'Destructive'],
    ['execute_sql', 'Runs a SQL statement against the database.', 'Execute'],
    ['browser_evaluate', 'Evaluates JavaScript in the page.', 'Execute'],
    ['create_refund', 'Refunds a charge.', 'Financial'],
    ['list_invoices', 'Lists invoices.', 'Read'],
  ] as const)('%s -> %s', (name, description, expected) => {
    expect(classifyTool(tool(name, description)).category).toBe(expected);
  });

  it('gives the risk of the category', () => {
    expect(classifyTool(tool('get_file')).risk).toBe('Low');
    expect(classifyTool(tool('update_file')).risk).toBe('Medium');
    expect(classifyTool(tool('run_command')).risk).toBe('High');
    expect(classifyTool(tool('drop_table')).risk).toBe('Critical');
  });

  it('lets the leading verb decide over later tokens', () => {
    const c = classifyTool(tool('list_deleted_items', 'Lists items in the recycle bin.'));
    expect(c.category).toBe('Read');
    expect(c.evidence[0]).toMatchObject({ kind: 'name', detail: 'list', category: 'Read' });
  });

  it.each([
    ['find_and_remove', 'Finds matching files and removes them from disk.'],
    ['list_and_delete_old_backups', 'Lists backups older than N days and deletes them.'],
    ['show_and_kill', 'Shows running processes and kills the matching ones.'],
    ['get_or_delete', ''],
  ])('counts a more severe verb joined by and/or as fully as the first: %s', (name, description) => {
    const c = classifyTool(tool(name, description));
    expect(c.category).toBe('Destructive');
    // The joined verb weighs 1.5x its base (4), as the leading verb does, not 0.5x.
    expect(c.evidence.find((e) => e.kind === 'name' && e.category === 'Destructive')?.weight).toBe(6);
  });

  it('does not add weight for a joined verb of the same kind (create_or_update restates one action)', () => {
    const c = classifyTool(tool('create_or_update_file'));
    expect(c.category).toBe('Write');
    expect(c.evidence.find((e) => e.detail === 'update')?.weight).toBe(1.5);
  });

  it.each([
    ['delete_rows_from_table', 'Destructive'],
    ['delete_objects_from_bucket', 'Destructive'],
    ['delete_from_s3', 'Destructive'],
    ['remove_files_from_disk', 'Destructive'],
    ['remove_user_from_group', 'Write'],
    ['transfer_funds', 'Financial'],
    ['wire_transfer', 'Financial'],
    ['withdraw_funds', 'Financial'],
    ['get_and_transfer_funds', 'Financial'],
    ['get_and_send_money', 'Financial'],
    ['transfer_repository', 'Write'],
    ['list_transfers', 'Read'],
    ['read_and_shred', 'Destructive'],
  ] as const)('reads what %s does to data and money: %s', (name, expected) => {
    expect(classifyTool(tool(name)).category).toBe(expected);
  });

  it('treats remove ... from as detaching, not destroying', () => {
    expect(classifyTool(tool('remove_label_from_issue')).category).toBe('Write');
    expect(classifyTool(tool('remove_label')).category).toBe('Destructive');
  });

  it('reads schema fields: a sql field makes a query tool Execute, an amount makes a charge Financial', () => {
    const q = classifyTool(tool('query', 'Queries the database.', { sql: { type: 'string' } }));
    expect(q.category).toBe('Execute');
    expect(q.evidence.some((e) => e.kind === 'schema' && e.detail === 'sql')).toBe(true);
    const pay = classifyTool(
      tool('create_payment_intent', 'Starts a payment.', { amount: { type: 'integer' } }),
    );
    expect(pay.category).toBe('Financial');
  });

  it('counts a command field only when it is a shell command', () => {
    const routed = classifyTool(
      tool('storage', 'Routes storage operations.', {
        command: { type: 'string', description: 'Operation name' },
      }),
    );
    expect(routed.evidence.find((e) => e.detail === 'command')?.weight).toBe(0.5);
    const shell = classifyTool(
      tool('terminal', '', { command: { type: 'string', description: 'Shell command to execute' } }),
    );
    expect(shell.category).toBe('Execute');
  });

  it('treats annotations as hints: explicit only, and outweighed by the name', () => {
    // destructiveHint defaults to true in the spec; an absent hint is no evidence.
    const none = classifyTool(tool('frobnicate', ''));
    expect(none.evidence).toEqual([]);
    expect(none.category).toBe('Write');
    expect(none.confidence).toBe(0.2);
    const ro = classifyTool(tool('frobnicate', '', {}, { annotations: { readOnlyHint: true } }));
    expect(ro.category).toBe('Read');
    expect(ro.evidence[0]).toMatchObject({ kind: 'annotation', detail: 'readOnlyHint: true' });
    // A server that marks a delete tool read-only is wrong; the name wins.
    const lying = classifyTool(
      tool('delete_user', 'Deletes a user.', {}, { annotations: { readOnlyHint: true } }),
    );
    expect(lying.category).toBe('Destructive');
  });

  it('ignores negated phrases', () => {
    const c = classifyTool(tool('preview_setup', 'Builds a setup manifest without creating anything.'));
    expect(c.evidence.some((e) => e.kind === 'description' && e.category === 'Write')).toBe(false);
    expect(c.category).toBe('Read');
  });

  it('quotes description phrases of at most five words', () => {
    const c = classifyTool(tool('thing', 'This action cannot be undone.'));
    const d = c.evidence.find((e) => e.kind === 'description')!;
    expect(d.detail).toBe('"cannot be undone"');
    for (const e of c.evidence)
      if (e.kind === 'description') expect(e.detail.split(' ').length).toBeLessThanOrEqual(5);
  });

  it('lets a manual override win, with its reason as evidence', () => {
    const c = classifyTool(
      tool('list_things', '', {}, { category: { value: 'Financial', reason: 'each call is billed' } }),
    );
    expect(c).toEqual({
      category: 'Financial',
      risk: 'Critical',
      confidence: 1,
      evidence: [{ kind: 'override', detail: 'each call is billed', category: 'Financial', weight: 1 }],
      overridden: true,
    });
  });

  it('weighs the verb that opens the description more, unless it opens a list of operations', () => {
    const opening = classifyTool(tool('volume_restore', 'Overwrites the volume with a backup image.'));
    expect(opening.evidence.find((e) => e.detail === '"overwrites"')?.weight).toBe(3);
    const later = classifyTool(tool('volume_restore', 'Given a backup, it overwrites the volume.'));
    expect(later.evidence.find((e) => e.detail === '"overwrites"')?.weight).toBe(2);
    const router = classifyTool(tool('volumes', 'Lists, creates or deletes volumes.'));
    expect(router.evidence.find((e) => e.detail === '"lists"')?.weight).toBe(3);
  });

  it('does not boost an opening verb that restates the name, so a money noun still decides', () => {
    const c = classifyTool(tool('create_price', 'Creates a price for a product.'));
    expect(c.category).toBe('Financial');
    expect(c.evidence.find((e) => e.detail === '"creates"')?.weight).toBe(1.5);
  });

  it('treats a remove tool whose description opens by detaching as Write', () => {
    expect(classifyTool(tool('lb-remove-nodes', 'Detaches nodes from a load balancer.')).category).toBe(
      'Write',
    );
    expect(classifyTool(tool('removeTaskTag', 'Takes a tag off a task.')).category).toBe('Write');
    expect(classifyTool(tool('remove_node', 'Removes a node from the pool.')).category).toBe('Destructive');
  });

  it('reads pull_request and merge_request as nouns', () => {
    expect(
      classifyTool(tool('repo_pull_request', 'Lists pull requests or returns one pull request.')).category,
    ).toBe('Read');
    expect(classifyTool(tool('merge_merge_request', 'Merges a merge request.')).category).toBe('Write');
  });

  it('counts saving to disk as Write unless it is only an option', () => {
    const saved = classifyTool(
      tool('download_icons', 'Exports icons as PNG files and saves them to a local folder.'),
    );
    expect(saved.category).toBe('Write');
    const optional = classifyTool(
      tool('get_trace', 'Retrieves a trace of the page, optionally saving it to a file.'),
    );
    expect(optional.category).toBe('Read');
    expect(classifyTool(tool('download-bytes-to-file', 'Saves attachment bytes.')).category).toBe('Write');
  });

  it('counts taking a snapshot of a resource as Write', () => {
    expect(classifyTool(tool('snapshot-volume', 'Takes a snapshot of a block volume.')).category).toBe(
      'Write',
    );
  });

  it('counts deploying and applying manifests or migrations as Execute', () => {
    expect(classifyTool(tool('promote_release', 'Deploys the build to the next environment.')).category).toBe(
      'Execute',
    );
    expect(
      classifyTool(tool('finish_schema_change', 'Applies a tested schema migration to the database.'))
        .category,
    ).toBe('Execute');
    expect(classifyTool(tool('power-on-vm', 'Boots a stopped machine.')).category).toBe('Execute');
  });

  it('counts reports, diagnostics and generated guidance as Read', () => {
    expect(classifyTool(tool('quota', 'Reports quota usage per region.')).category).toBe('Read');
    expect(classifyTool(tool('architect', 'Generates suggested designs from requirements.')).category).toBe(
      'Read',
    );
  });

  it('does not take sending a request to a model for a write', () => {
    expect(
      classifyTool(tool('model_inference', 'Sends a prompt to a hosted model and returns its output.'))
        .category,
    ).toBe('Read');
  });

  it('reads arbitrary API requests or mutations as Execute', () => {
    expect(
      classifyTool(tool('api_batch', 'Sends up to twenty arbitrary API requests in one call.')).category,
    ).toBe('Execute');
  });

  it('classifies invented money and disk tools from their words, with no catalogue entry', () => {
    const send = classifyTool(
      tool('send_money', 'Sends money to an account.', {
        amount: { type: 'number' },
        currency: { type: 'string' },
      }),
    );
    expect(send.category).toBe('Financial');
    expect(send.evidence[0]).toMatchObject({ kind: 'name', detail: 'send money', category: 'Financial' });
    const order = classifyTool(tool('place_order', 'Places a market order to buy or sell shares.'));
    expect(order.category).toBe('Financial');
    expect(order.evidence.some((e) => e.detail === '"market order"')).toBe(true);
    expect(classifyTool(tool('trade', 'Buys or sells stocks for the user.')).category).toBe('Financial');
    const format = classifyTool(tool('format_volume', 'Formats a volume, erasing all data.'));
    expect(format.category).toBe('Destructive');
    expect(format.evidence.some((e) => e.detail === '"erasing all data"')).toBe(true);
    // Without the name's help the description alone is enough.
    expect(classifyTool(tool('volume_prepare', 'Prepares a volume, erasing all data.')).category).toBe(
      'Destructive',
    );
    // Formatting text is not formatting a disk.
    expect(classifyTool(tool('format_code', 'Formats source code.')).category).not.toBe('Destructive');
  });

  it('does not let a noun in the name outvote what the description says the tool does', () => {
    // `network`, `status`, `info` are nouns: they no longer lead the name as a Read verb.
    const net = classifyTool(
      tool('docker-network', 'Creates, lists, inspects or removes Docker networks on the host.'),
    );
    expect(net.category).toBe('Destructive');
    expect(net.evidence.find((e) => e.detail === 'network')).toMatchObject({ category: 'Read', weight: 1.5 });
    expect(classifyTool(tool('service_status', 'Resets the service, dropping its queue.')).category).toBe(
      'Destructive',
    );
    expect(classifyTool(tool('git_status', 'Shows the working tree status.')).category).toBe('Read');
  });

  it('gives a router the weight of the worst operation it lists', () => {
    const c = classifyTool(
      tool('git_tag', 'Lists, creates, deletes or verifies signatures of tags in a local repository.'),
    );
    expect(c.category).toBe('Destructive');
    expect(c.evidence.find((e) => e.detail === '"lists creates deletes or verifies"')).toMatchObject({
      category: 'Destructive',
      weight: 4.5,
    });
    // Two operations are not a router: "Creates or updates" stays Write.
    expect(classifyTool(tool('put_item', 'Creates or updates an item.')).category).toBe('Write');
  });

  it('reads a caller-supplied SQL statement as Execute even in a transaction meant to be read-only', () => {
    const c = classifyTool(
      tool(
        'query',
        'Runs a caller-supplied SQL statement inside a transaction meant to be read-only, which a multi-statement string can end.',
        { sql: { type: 'string' } },
      ),
    );
    expect(c.category).toBe('Execute');
    // "read-only" is one piece of Read evidence, not two ("read" is not counted again).
    expect(c.evidence.filter((e) => e.category === 'Read' && e.kind === 'description')).toHaveLength(1);
  });

  it('reads names of Object.prototype members as words, not as lexicon entries', () => {
    // `constructor` was found `in` every lexicon (its prototype's), with an undefined weight.
    const bare = classifyTool(tool('constructor'));
    expect(bare).toMatchObject({ category: 'Write', confidence: 0.2, evidence: [] });
    for (const name of ['constructor', 'get_constructor', 'delete_toString', 'hasOwnProperty', '__proto__']) {
      const c = classifyTool(tool(name, 'A tool.'));
      expect(Number.isFinite(c.confidence)).toBe(true);
      expect(c.evidence.every((e) => Number.isFinite(e.weight))).toBe(true);
    }
    expect(classifyTool(tool('get_constructor')).category).toBe('Read');
    expect(classifyTool(tool('delete_constructor')).category).toBe('Destructive');
  });

  it('is deterministic and bounded', () => {
    const t = tool('update_and_delete_records', 'Updates records and removes stale ones.', { data: {} });
    const a = classifyTool(t);
    expect(classifyTool(t)).toEqual(a);
    expect(a.confidence).toBeGreaterThan(0);
    expect(a.confidence).toBeLessThanOrEqual(1);
  });
});
