// The client against a real Statehouse with authentication on
// (statehouse serve --auth, over TLS): STATEHOUSE_AUTH_TARGET=host:port,
// STATEHOUSE_AUTH_TOKEN=the secret of an admin token for every namespace ('*'),
// and the server's CA in STATEHOUSE_TEST_TLS_DIR/ca.pem.
// tests/integration/test_js_client.py sets them up; without them the file is skipped.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { connect, Role, State, StatehouseError } from '../lib/src/node.js';

const TARGET = process.env.STATEHOUSE_AUTH_TARGET;
const ADMIN_SECRET = process.env.STATEHOUSE_AUTH_TOKEN;
const TLS_DIR = process.env.STATEHOUSE_TEST_TLS_DIR;
const skip =
  TARGET && ADMIN_SECRET && TLS_DIR
    ? false
    : 'STATEHOUSE_AUTH_TARGET, STATEHOUSE_AUTH_TOKEN and STATEHOUSE_TEST_TLS_DIR are not set';
const TLS = TLS_DIR ? { ca: path.join(TLS_DIR, 'ca.pem') } : undefined;
const NAMESPACE = `node.auth-${randomUUID().slice(0, 8)}`;

delete process.env.STATEHOUSE_TOKEN;
delete process.env.STATEHOUSE_TLS_CA;

async function failure(promise) {
  return promise.then(
    (value) => assert.fail(`expected a failure, got ${value}`),
    (error) => {
      assert.ok(error instanceof StatehouseError, String(error));
      return error;
    },
  );
}

/** The first event of a subscription (then break, which cancels it). */
async function firstEvent(sh, request) {
  for await (const message of sh.events.subscribe(request)) {
    if (message.payload.case === 'event') return message.payload.value;
  }
  throw new Error('the stream ended without an event');
}

describe('a server with --auth', { skip }, () => {
  const clients = [];
  const open = (token) => {
    const sh = connect(TARGET, { tls: TLS, token });
    clients.push(sh);
    return sh;
  };
  let admin;
  let writerName;
  let writerSecret;
  let readerSecret;

  before(async () => {
    admin = open(ADMIN_SECRET);
    writerName = `node-writer-${randomUUID().slice(0, 8)}`;
    const writer = await admin.admin.createToken({ name: writerName, role: Role.WRITER, namespaces: [NAMESPACE] });
    assert.equal(writer.token.name, writerName);
    assert.equal(writer.token.role, Role.WRITER);
    assert.deepEqual(writer.token.namespaces, [NAMESPACE]);
    assert.ok(writer.secret.length > 0, 'CreateToken returned no secret');
    writerSecret = writer.secret;
    const reader = await admin.admin.createToken({
      name: `node-reader-${randomUUID().slice(0, 8)}`,
      role: Role.READER,
      namespaces: [NAMESPACE],
      ttl: { seconds: 3600n },
    });
    readerSecret = reader.secret;
  });
  after(() => {
    for (const sh of clients) sh.close();
  });

  test('refuses calls and streams without a token, or with a wrong one (UNAUTHENTICATED)', async () => {
    for (const token of ['', 'sh_not.a-real-token']) {
      const sh = open(token);
      const unary = await failure(sh.executions.listExecutions({ namespace: NAMESPACE }));
      assert.equal(unary.codeName, 'UNAUTHENTICATED', unary.message);
      const stream = await failure(firstEvent(sh, { filter: { namespace: NAMESPACE }, fromLatest: true }));
      assert.equal(stream.codeName, 'UNAUTHENTICATED', stream.message);
    }
  });

  test('the AdminService lists the tokens without their secrets', async () => {
    const { tokens } = await admin.admin.listTokens({});
    const names = tokens.map((t) => t.name);
    assert.ok(names.includes(writerName), names.join(', '));
    assert.ok(!JSON.stringify(tokens, (_k, v) => (typeof v === 'bigint' ? String(v) : v)).includes(writerSecret));
  });

  test('a writer works in its namespace, as the actor of its changes', async () => {
    const writer = open(writerSecret);
    const { execution } = await writer.executions.createExecution({ namespace: NAMESPACE, flowId: 'auth' });
    const event = await firstEvent(writer, {
      filter: { namespace: NAMESPACE, executionIds: [execution.id] },
      afterSequence: 0n,
    });
    assert.equal(event.state, State.CREATED);
    assert.equal(event.actor, writerName);
    const { execution: stored } = await writer.executions.getExecution({ executionId: execution.id });
    assert.equal(stored.history[0].actor, writerName);
  });

  test('a writer may not work outside its namespace nor use the AdminService (PERMISSION_DENIED)', async () => {
    const writer = open(writerSecret);
    const outside = await failure(writer.executions.createExecution({ namespace: 'node.elsewhere', flowId: 'x' }));
    assert.equal(outside.codeName, 'PERMISSION_DENIED', outside.message);
    const adminCall = await failure(writer.admin.listTokens({}));
    assert.equal(adminCall.codeName, 'PERMISSION_DENIED', adminCall.message);
  });

  test('a reader reads but may not write (PERMISSION_DENIED)', async () => {
    const reader = open(readerSecret);
    await reader.executions.listExecutions({ namespace: NAMESPACE });
    const write = await failure(reader.executions.createExecution({ namespace: NAMESPACE, flowId: 'x' }));
    assert.equal(write.codeName, 'PERMISSION_DENIED', write.message);
    assert.equal(write.metadata.role_needed, 'writer');
  });

  test('a revoked token is refused within a few seconds', { timeout: 15_000 }, async () => {
    const name = `node-revoked-${randomUUID().slice(0, 8)}`;
    const { secret } = await admin.admin.createToken({ name, role: Role.READER, namespaces: [NAMESPACE] });
    const revokedClient = open(secret);
    await revokedClient.executions.listExecutions({ namespace: NAMESPACE });
    const { token } = await admin.admin.revokeToken({ name });
    assert.ok(token.revokeTime, 'RevokeToken returned no revokeTime');
    // Every replica refuses a revoked credential within two seconds.
    const deadline = Date.now() + 8000;
    let outcome;
    for (;;) {
      outcome = await revokedClient.executions.listExecutions({ namespace: NAMESPACE }).then(
        () => 'accepted',
        (e) => e.codeName,
      );
      if (outcome === 'UNAUTHENTICATED' || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(outcome, 'UNAUTHENTICATED', 'a revoked token was still accepted after 8 s');
  });
});
