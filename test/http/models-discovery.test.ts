/** GET /v1/models lists what clients can address beyond the catalog: router ids and config aliases. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../support/server.ts';

let server: TestServer;

before(async () => {
  server = await startTestServer({
    aliases: { fast: 'mock/echo', 'default-chat': 'fast', broken: 'nosuch/model', 'mock/echo': 'mock/echo' },
  });
});
after(async () => server?.stop());

describe('GET /v1/models discovery', () => {
  it('lists the router ids, owned by switchyard, and retrieves them', async () => {
    const list = await server.openai().models.list();
    const byId = new Map(list.data.map((m) => [m.id, m as any]));
    for (const id of ['router:code', 'router:code:price', 'router:code:quality', 'router:code:agentic', 'router:auto']) {
      assert.ok(byId.has(id), `${id} listed`);
      assert.equal(byId.get(id).owned_by, 'switchyard');
      assert.equal(byId.get(id).object, 'model');
    }
    assert.ok(byId.get('router:auto').description);
    const one = await server.openai().models.retrieve('router:code:price');
    assert.equal(one.owned_by, 'switchyard');
  });

  it('lists aliases that resolve, priced like their target; an alias that resolves to nothing is left out', async () => {
    const list = await server.openai().models.list();
    const byId = new Map(list.data.map((m) => [m.id, m as any]));
    const echo = byId.get('mock/echo');
    for (const id of ['fast', 'default-chat']) {
      const m = byId.get(id);
      assert.ok(m, `${id} listed`);
      assert.equal(m.owned_by, 'switchyard');
      assert.equal(m.kind, 'chat');
      assert.deepEqual(m.pricing, echo.pricing);
    }
    assert.equal(byId.get('fast').description, 'Alias of mock/echo');
    assert.equal(byId.has('broken'), false);
    assert.equal(list.data.filter((m) => m.id === 'mock/echo').length, 1, 'an alias named like a model is not listed twice');
    const res = await server.openai().chat.completions.create({ model: 'default-chat', messages: [{ role: 'user', content: 'hi' }] });
    assert.ok(res.choices[0].message.content);
  });
});
