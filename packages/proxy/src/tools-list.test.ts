import { describe, expect, it } from 'vitest';
import { filterToolsList } from './tools-list.js';

/** The text `filterToolsList` makes of `page` (a JSON-RPC response), hiding the tools `hidden` names. */
const filtered = (page: string, ...hidden: string[]) =>
  filterToolsList(Buffer.from(page), (t) => hidden.includes(t)).bytes.toString('utf8');

describe('filterToolsList', () => {
  it("cuts hidden tools out of the page's text: numbers beyond a double and escapes stay as written", () => {
    const kept = String.raw`{"name":"read_file","inputSchema":{"type":"object","properties":{"n":{"type":"integer","maximum":18446744073709551615,"exclusiveMaximum":1e400}}},"description":"a\u2028b \ud83d\ude00"}`;
    const hidden = String.raw`{"name":"move_file","inputSchema":{"type":"object","properties":{"n":{"maximum":1e400}}}}`;
    const rest = String.raw`"nextCursor":"c\u2028","_meta":{"big":12345678901234567890,"huge":-1E+400}`;
    const page = `{"jsonrpc":"2.0","id":1,"result":{"tools":[${kept},${hidden}],${rest}}}`;
    const out = filterToolsList(Buffer.from(page), (t) => t === 'move_file');
    expect(out.bytes.toString('utf8')).toBe(`{"jsonrpc":"2.0","id":1,"result":{"tools":[${kept}],${rest}}}`);
    expect(out.removed).toEqual(['move_file']);
    expect(out.tools.map((t) => t.name)).toEqual(['read_file', 'move_file']);
    expect(out.last).toBe(false);
  });

  it('removes the first, a middle, the last or every element with one comma each, keeping whitespace', () => {
    // Strings holding brackets, commas, quotes and backslashes must not confuse the cut.
    const a = String.raw`{"name":"a","description":"], {\"name\":\"b\"} \\"}`;
    const b = '{"name":"b","x":[1,[2,{"y":3}]],"big":1e400}';
    const c = '{"name":"c",\t"z":12345678901234567890}';
    const page = (tools: string) =>
      `{"jsonrpc":"2.0","id":"p","result":{ "tools" : ${tools} ,"nextCursor":"n"}}`;
    const full = page(`[ ${a} ,\t${b} , ${c} ]`);
    expect(filtered(full, 'a')).toBe(page(`[ ${b} , ${c} ]`));
    expect(filtered(full, 'b')).toBe(page(`[ ${a} ,\t${c} ]`));
    expect(filtered(full, 'c')).toBe(page(`[ ${a} ,\t${b} ]`));
    expect(filtered(full, 'a', 'c')).toBe(page(`[ ${b} ]`));
    expect(filtered(full, 'a', 'b')).toBe(page(`[ ${c} ]`));
    expect(filtered(full, 'b', 'c')).toBe(page(`[ ${a} ]`));
    expect(filtered(full, 'a', 'b', 'c')).toBe(page('[  ]'));
    expect(filtered(page(`[${b}]`), 'b')).toBe(page('[]'));
    expect(filtered(page(`[${a},${b},${c}]`), 'a', 'b', 'c')).toBe(page('[]'));
  });

  it('reads escaped member names as JSON.parse does, and edits the tools array JSON.parse read', () => {
    const secret = String.raw`{"n\u0061me":"move_file","big":1e400}`;
    const keep = '{"name":"read","big":12345678901234567890}';
    expect(
      filtered(String.raw`{"jsonrpc":"2.0","id":1,"result":{"too\u006cs":[${secret},${keep}]}}`, 'move_file'),
    ).toBe(String.raw`{"jsonrpc":"2.0","id":1,"result":{"too\u006cs":[${keep}]}}`);
    // `tools` written twice: JSON.parse reads the last; a decoder keeping the first reads that one,
    // so it loses its hidden tools too. Neither occurrence is dropped.
    const twice = `{"jsonrpc":"2.0","id":1,"result":{"tools":[${secret},{"name":"a"}],"x":1e400,"tools":[${keep},${secret}]}}`;
    expect(filtered(twice, 'move_file')).toBe(
      `{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"a"}],"x":1e400,"tools":[${keep}]}}`,
    );
    // `tools` not an array, or nothing hidden: the page passes as it came.
    for (const page of [
      '{"jsonrpc":"2.0","id":1,"result":{"tools":{"0":{"name":"move_file"}},"big":1e400}}',
      `{"jsonrpc":"2.0","id":1,"result":{"tools":[${keep}]}}`,
    ])
      expect(filtered(page, 'move_file')).toBe(page);
  });

  it('drops a tool that writes its name twice (a client keeping the first would read a hidden one)', () => {
    const page = (tools: string) => Buffer.from(`{"jsonrpc":"2.0","id":"l","result":{"tools":[${tools}]}}`);
    for (const twice of [
      '{"name":"secret_a","name":"echo"}',
      '{"Name":"secret_a","name":"echo"}',
      '{"name\\u0000":"secret_a","name":"echo"}',
      '{"name":"secret_a","name":0}',
    ]) {
      const r = filterToolsList(page(`${twice},{"name":"ok"}`), (t) => t.startsWith('secret'));
      expect(r.bytes.toString(), twice).toBe('{"jsonrpc":"2.0","id":"l","result":{"tools":[{"name":"ok"}]}}');
      expect(r.removed, twice).toEqual([
        twice.endsWith('0}') ? '(a tool whose name is written twice)' : 'echo',
      ]);
    }
    // Nothing hidden, nothing written twice: the page passes as it came.
    const plain = page('{"name":"echo","names":["a"]},{"name":"ok"}');
    expect(filterToolsList(plain, () => false).bytes).toBe(plain);
  });

  it('cuts hidden tools out of an earlier tools member even when the one JSON.parse reads hides none', () => {
    const bytes = Buffer.from(
      '{"jsonrpc":"2.0","id":"l","result":{"tools":[{"name":"secret_a"},{"name":"x"}],"tools":[{"name":"echo"}]}}',
    );
    const r = filterToolsList(bytes, (t) => t.startsWith('secret'));
    expect(r.bytes.toString()).toBe(
      '{"jsonrpc":"2.0","id":"l","result":{"tools":[{"name":"x"}],"tools":[{"name":"echo"}]}}',
    );
    expect(r.removed).toEqual([]);
    // An earlier tools member's tool that writes its name twice is cut too.
    const twice = Buffer.from(
      '{"jsonrpc":"2.0","id":"l","result":{"tools":[{"name":"secret_key","name":"echo"}],"tools":[{"name":"echo"}]}}',
    );
    expect(filterToolsList(twice, (t) => t.startsWith('secret')).bytes.toString()).toBe(
      '{"jsonrpc":"2.0","id":"l","result":{"tools":[],"tools":[{"name":"echo"}]}}',
    );
  });

  it('cuts every other tool out of a page of 20,000', () => {
    const tool = (k: number) => `{"name":"${k % 2 ? 'hide' : 'keep'}${k}","inputSchema":{"maximum":1e400}}`;
    const all = Array.from({ length: 20_000 }, (_, k) => tool(k));
    const page = (tools: string[]) => `{"jsonrpc":"2.0","id":1,"result":{"tools":[${tools.join(',')}]}}`;
    const out = filterToolsList(Buffer.from(page(all)), (t) => t.startsWith('hide'));
    expect(out.removed).toHaveLength(10_000);
    expect(out.bytes.toString('utf8')).toBe(page(all.filter((_, k) => k % 2 === 0)));
  });
});
