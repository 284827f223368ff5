// The client against a real Statehouse serving TLS (statehouse serve
// --tls-cert --tls-key): STATEHOUSE_TLS_TARGET=host:port, with the CA and a
// second, unrelated CA in STATEHOUSE_TEST_TLS_DIR (ca.pem, other-ca.pem).
// tests/integration/test_js_client.py makes the certificates and starts the
// server; without these variables the file is skipped.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { connect, NO_RETRY, State, StatehouseError } from '../lib/src/node.js';
import { breakAndCloseInChild } from './support.js';

const TARGET = process.env.STATEHOUSE_TLS_TARGET;
const TLS_DIR = process.env.STATEHOUSE_TEST_TLS_DIR;
const skip = TARGET && TLS_DIR ? false : 'STATEHOUSE_TLS_TARGET and STATEHOUSE_TEST_TLS_DIR are not set';
const tlsFile = (name) => path.join(TLS_DIR, name);

delete process.env.STATEHOUSE_TOKEN;
delete process.env.STATEHOUSE_TLS_CA;

async function createExecution(sh) {
  return sh.executions.createExecution({ namespace: 'node.tls', flowId: 'tls' }, { timeoutMs: 5000 });
}

describe('a TLS server', { skip }, () => {
  let sh;
  before(() => {
    sh = connect(TARGET, { tls: { ca: tlsFile('ca.pem') } });
  });
  after(() => sh && sh.close());

  test('serves a client that trusts its CA: unary calls and streams', async () => {
    const { execution } = await createExecution(sh);
    assert.equal(execution.namespace, 'node.tls');
    assert.equal(typeof execution.id, 'string');
    for await (const message of sh.events.subscribe({ filter: { executionIds: [execution.id] }, afterSequence: 0n })) {
      assert.equal(message.payload.value.executionId, execution.id);
      assert.equal(message.payload.value.state, State.CREATED);
      assert.equal(typeof message.payload.value.actor, 'string');
      break;
    }
  });

  test('the CA as a Buffer and the server name checked explicitly', async () => {
    const other = connect(TARGET, {
      tls: { ca: fs.readFileSync(tlsFile('ca.pem')), serverName: 'localhost' },
      token: 'ignored-by-a-server-without-auth',
    });
    try {
      await createExecution(other);
    } finally {
      other.close();
    }
  });

  test('refuses clients without its CA, with another CA, or in plaintext', async () => {
    for (const options of [{ tls: true }, { tls: { ca: tlsFile('other-ca.pem') } }, { tls: false }]) {
      const client = connect(TARGET, { ...options, retry: NO_RETRY });
      try {
        const error = await createExecution(client).then(
          () => assert.fail(`connected with ${JSON.stringify(options)}`),
          (e) => e,
        );
        assert.ok(error instanceof StatehouseError, String(error));
        if (options.tls) assert.equal(error.codeName, 'UNAVAILABLE', `${JSON.stringify(options)}: ${error.message}`);
      } finally {
        client.close();
      }
    }
  });

  test(
    'a process that breaks out of a subscription over TLS and closes the client exits',
    { timeout: 10_000 },
    async () => {
      const { code, output } = await breakAndCloseInChild(TARGET, { tls: { ca: tlsFile('ca.pem') } });
      assert.equal(code, 0, output);
      assert.match(output, /closed/);
    },
  );
});
