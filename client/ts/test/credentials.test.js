// The client's credentials, streams and resumption, against a small Connect
// server (gRPC protocol, @connectrpc/connect-node) in this process that serves
// the Statehouse services and records the headers of every call: no Statehouse
// needed. The TLS cases need certificates in STATEHOUSE_TEST_TLS_DIR (ca.pem,
// server.crt, server.key, other-ca.pem, clients-ca.pem, client.crt,
// client.key), which tests/integration/test_js_client.py makes; without it
// they are skipped.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http2 from 'node:http2';
import path from 'node:path';
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { ConnectError } from '@connectrpc/connect';
import { connectNodeAdapter } from '@connectrpc/connect-node';
import {
  AdminService,
  Code,
  connect,
  EventService,
  ExecutionService,
  isLoopback,
  NO_RETRY,
  Role,
  StatehouseError,
  withRequestId,
} from '../lib/src/node.js';
import { breakAndCloseInChild, eventually, firstMessage } from './support.js';

const TLS_DIR = process.env.STATEHOUSE_TEST_TLS_DIR;
const tlsFile = (name) => path.join(TLS_DIR, name);
const SECRET = 'sh_test.0123456789abcdef';
const TIMEOUT = { timeout: 10_000 }; // a stream left open must fail a test, not hang the run

// The client's environment fallbacks must not leak in from the caller's shell.
delete process.env.STATEHOUSE_TOKEN;
delete process.env.STATEHOUSE_TLS_CA;

/** A ConnectError carrying a google.rpc.ErrorInfo, as the Statehouse server sends it. */
function statusError(code, message, reason, metadata = {}) {
  const info = new BinaryWriter();
  info.tag(1, WireType.LengthDelimited).string(reason);
  info.tag(2, WireType.LengthDelimited).string('statehouse');
  for (const [key, value] of Object.entries(metadata)) {
    info.tag(3, WireType.LengthDelimited).fork();
    info.tag(1, WireType.LengthDelimited).string(key);
    info.tag(2, WireType.LengthDelimited).string(value);
    info.join();
  }
  return new ConnectError(message, code, undefined, [{ type: 'google.rpc.ErrorInfo', value: info.finish() }]);
}

const event = (sequence) => ({ sequence: BigInt(sequence), executionId: `e${sequence}` });
const one = (sequence) => ({ payload: { case: 'event', value: event(sequence) } });
/** Subscribe messages with several events each, some again (at or below the cursor). */
const BATCHES = [
  { events: [event(1), event(2), event(3)] },
  { events: [event(3), event(4)] },
  { events: [event(2)] }, // nothing new: the client must read on
  one(2),
  { payload: { case: 'heartbeat', value: { sequence: 6n } } },
  { events: [event(5), event(7)] }, // 5 is at or below the heartbeat
  one(8),
];

const waitForAbort = (signal) => new Promise((resolve) => signal.addEventListener('abort', resolve));

/**
 * A server of the Statehouse services that records every call as
 * { method, authorization } and answers by the request: execution id or
 * namespace "unauthenticated" or "denied" fail as an auth-enabled server would.
 */
class RecordingServer {
  constructor() {
    this.calls = [];
    this.cancelled = [];
    this.subscribeRequests = [];
    this.flaky = 0;
    this.sessions = new Set();
  }

  record(method, context) {
    this.calls.push({ method, authorization: context.requestHeader.get('authorization') });
  }

  refusal(id) {
    if (id === 'unauthenticated') {
      return statusError(Code.Unauthenticated, 'a valid bearer token is required', 'UNAUTHENTICATED');
    }
    if (id === 'denied') {
      return statusError(Code.PermissionDenied, 'writer may not read namespace x', 'PERMISSION_DENIED', {
        namespace: 'x',
      });
    }
    return null;
  }

  routes(router) {
    const server = this;
    router.service(ExecutionService, {
      getExecution(request, context) {
        server.record('GetExecution', context);
        const error = server.refusal(request.executionId);
        if (error) throw error;
        return { execution: { id: request.executionId, namespace: 'fake' } };
      },
      // "flaky-N": UNAVAILABLE the first N times, then created; the request ids seen.
      createExecution(request, context) {
        server.record('CreateExecution', context);
        server.requestIds = [...(server.requestIds ?? []), request.requestId];
        if (server.requestIds.length <= Number(request.flowId.split('-')[1] ?? 0)) {
          throw new ConnectError('the server is restarting', Code.Unavailable);
        }
        return { execution: { id: 'created', namespace: request.namespace } };
      },
    });
    router.service(EventService, {
      // One heartbeat at once, then open until the client cancels; namespace
      // "batches": BATCHES, then the end; "open-batch": BATCHES[0], then open;
      // "flaky": events 1 and 2, then UNAVAILABLE, once; then the events after the request's.
      async *subscribe(request, context) {
        server.record('Subscribe', context);
        server.subscribeRequests.push(request);
        context.signal.addEventListener('abort', () => server.cancelled.push('Subscribe'));
        const namespace = request.filter?.namespace;
        const error = server.refusal(namespace);
        if (error) throw error;
        context.responseHeader.set('statehouse-start-sequence', String(request.afterSequence));
        if (namespace === 'batches') {
          yield* BATCHES;
          return;
        }
        if (namespace === 'open-batch') {
          yield BATCHES[0];
          await waitForAbort(context.signal);
          return;
        }
        if (namespace === 'flaky') {
          if (server.flaky++ === 0) {
            yield one(1);
            yield one(2);
            throw new ConnectError('the server is shutting down', Code.Unavailable);
          }
          for (let s = Number(request.afterSequence) + 1; s <= 4; s++) yield one(s);
          await waitForAbort(context.signal);
          return;
        }
        yield { payload: { case: 'heartbeat', value: { sequence: 7n } } };
        await waitForAbort(context.signal);
      },
    });
    router.service(AdminService, {
      listTokens(_request, context) {
        server.record('ListTokens', context);
        return { tokens: [{ name: 'admin', role: Role.ADMIN, namespaces: ['*'] }] };
      },
      createToken(request, context) {
        server.record('CreateToken', context);
        return { token: { name: request.name, role: request.role }, secret: 'new-secret' };
      },
      revokeToken(request, context) {
        server.record('RevokeToken', context);
        return { token: { name: request.name } };
      },
    });
  }

  /** Listens on 127.0.0.1 (plaintext, or TLS with these options); returns "127.0.0.1:port". */
  start(tls = null) {
    const handler = connectNodeAdapter({ routes: (router) => this.routes(router) });
    this.server = tls ? http2.createSecureServer(tls, handler) : http2.createServer(handler);
    this.server.on('session', (session) => {
      this.sessions.add(session);
      session.on('close', () => this.sessions.delete(session));
    });
    return new Promise((resolve) => {
      this.server.listen(0, '127.0.0.1', () => resolve(`127.0.0.1:${this.server.address().port}`));
    });
  }

  stop() {
    for (const session of this.sessions) session.destroy();
    this.server.close();
  }

  authorizations(method) {
    return this.calls.filter((c) => !method || c.method === method).map((c) => c.authorization);
  }
}

async function rejection(promise) {
  return promise.then(
    (value) => assert.fail(`expected a rejection, got ${value}`),
    (error) => error,
  );
}

describe('bearer token over plaintext on loopback', () => {
  let fake;
  let target;
  before(async () => {
    fake = new RecordingServer();
    target = await fake.start();
  });
  after(() => fake.stop());

  test('is sent on unary calls, streams and the AdminService', async () => {
    const sh = connect(target, { token: SECRET });
    try {
      fake.calls = [];
      const { execution } = await sh.executions.getExecution({ executionId: 'e1' });
      assert.equal(execution.id, 'e1');
      const message = await firstMessage(sh);
      assert.equal(message.payload.case, 'heartbeat');
      const { tokens } = await sh.admin.listTokens({});
      assert.deepEqual(
        tokens.map((t) => [t.name, t.role]),
        [['admin', Role.ADMIN]],
      );
      const created = await sh.admin.createToken({ name: 'w', role: Role.WRITER, namespaces: ['a'] });
      assert.equal(created.secret, 'new-secret');
      assert.equal((await sh.admin.revokeToken({ name: 'w' })).token.name, 'w');
      assert.deepEqual(fake.calls, [
        { method: 'GetExecution', authorization: `Bearer ${SECRET}` },
        { method: 'Subscribe', authorization: `Bearer ${SECRET}` },
        { method: 'ListTokens', authorization: `Bearer ${SECRET}` },
        { method: 'CreateToken', authorization: `Bearer ${SECRET}` },
        { method: 'RevokeToken', authorization: `Bearer ${SECRET}` },
      ]);
    } finally {
      sh.close();
    }
  });

  test('is not sent without a token', async () => {
    const sh = connect(target);
    try {
      fake.calls = [];
      await sh.executions.getExecution({ executionId: 'e1' });
      await firstMessage(sh);
      assert.deepEqual(fake.authorizations(), [null, null]);
    } finally {
      sh.close();
    }
  });

  test('comes from STATEHOUSE_TOKEN when no token is given; token "" sends none', async () => {
    process.env.STATEHOUSE_TOKEN = 'from-the-environment';
    try {
      const fromEnv = connect(target);
      const explicit = connect(target, { token: 'explicit' });
      const none = connect(target, { token: '' });
      fake.calls = [];
      await fromEnv.executions.getExecution({ executionId: 'e1' });
      await firstMessage(fromEnv);
      await explicit.executions.getExecution({ executionId: 'e1' });
      await none.executions.getExecution({ executionId: 'e1' });
      assert.deepEqual(fake.authorizations(), [
        'Bearer from-the-environment',
        'Bearer from-the-environment',
        'Bearer explicit',
        null,
      ]);
      for (const sh of [fromEnv, explicit, none]) sh.close();
    } finally {
      delete process.env.STATEHOUSE_TOKEN;
    }
  });

  test('UNAUTHENTICATED and PERMISSION_DENIED reject with StatehouseErrors and their ErrorInfo', async () => {
    const sh = connect(target, { token: SECRET });
    try {
      const unauthenticated = await rejection(sh.executions.getExecution({ executionId: 'unauthenticated' }));
      assert.ok(unauthenticated instanceof StatehouseError, String(unauthenticated));
      assert.equal(unauthenticated.code, Code.Unauthenticated);
      assert.equal(unauthenticated.codeName, 'UNAUTHENTICATED');
      assert.equal(unauthenticated.reason, 'UNAUTHENTICATED');
      assert.equal(unauthenticated.domain, 'statehouse');
      assert.equal(unauthenticated.message, 'a valid bearer token is required');

      const denied = await rejection(sh.executions.getExecution({ executionId: 'denied' }));
      assert.ok(denied instanceof StatehouseError, String(denied));
      assert.equal(denied.codeName, 'PERMISSION_DENIED');
      assert.equal(denied.reason, 'PERMISSION_DENIED');
      assert.deepEqual(denied.metadata, { namespace: 'x' });

      // The same on a stream, which is not retried.
      const streamed = await rejection(firstMessage(sh, { filter: { namespace: 'denied' } }, {}));
      assert.ok(streamed instanceof StatehouseError, String(streamed));
      assert.equal(streamed.codeName, 'PERMISSION_DENIED');
      assert.deepEqual(streamed.metadata, { namespace: 'x' });
    } finally {
      sh.close();
    }
  });

  test('is refused without TLS to a host other than this machine', () => {
    assert.throws(() => connect('statehouse.example:50051', { token: SECRET }), /refusing to send a token without TLS/);
    assert.throws(() => connect('10.1.2.3:50051', { token: SECRET }), /without TLS/);
    connect('statehouse.example:50051', { token: SECRET, allowPlaintextToken: true }).close();
    connect('statehouse.example:50051').close(); // no token: nothing to protect
    for (const local of ['127.0.0.1:1', 'localhost:1', '[::1]:1', 'dns:///localhost:1', 'http://127.0.0.2:1']) {
      assert.ok(isLoopback(local), local);
    }
    for (const remote of ['10.0.0.1:1', 'example.com:1', '[2001:db8::1]:1', 'dns:///example.com:1', '127.example.com:1']) {
      assert.ok(!isLoopback(remote), remote);
    }
  });

  test('a token with characters a header cannot carry is refused', () => {
    assert.throws(() => connect(target, { token: 'abc\ndef' }), /printable ASCII/);
  });
});

describe('retries', () => {
  let fake;
  let target;
  before(async () => {
    fake = new RecordingServer();
    target = await fake.start();
  });
  after(() => fake.stop());

  test('a change with a request id is sent again, with the same id, while UNAVAILABLE', async () => {
    const sh = connect(target);
    try {
      fake.requestIds = [];
      const { execution } = await sh.executions.createExecution(withRequestId({ namespace: 'n', flowId: 'flaky-2' }));
      assert.equal(execution.id, 'created');
      assert.equal(fake.requestIds.length, 3);
      assert.equal(new Set(fake.requestIds).size, 1);
      assert.match(fake.requestIds[0], /^[0-9a-f]{32}$/);
    } finally {
      sh.close();
    }
  });

  test('a change without a request id is not: it might have been applied', async () => {
    const sh = connect(target);
    try {
      fake.requestIds = [];
      const error = await rejection(sh.executions.createExecution({ namespace: 'n', flowId: 'flaky-1' }));
      assert.equal(error.codeName, 'UNAVAILABLE');
      assert.ok(error.temporary);
      assert.deepEqual(fake.requestIds, ['']);
      // Nor with NO_RETRY.
      fake.requestIds = [];
      const once = await rejection(
        sh.executions.createExecution(withRequestId({ namespace: 'n', flowId: 'flaky-1' }), { retry: NO_RETRY }),
      );
      assert.equal(once.codeName, 'UNAVAILABLE');
      assert.equal(fake.requestIds.length, 1);
    } finally {
      sh.close();
    }
  });
});

describe('streams', () => {
  let fake;
  let target;
  before(async () => {
    fake = new RecordingServer();
    target = await fake.start();
  });
  after(() => fake.stop());

  test('breaking out of for await cancels the stream on the server', TIMEOUT, async () => {
    const sh = connect(target);
    try {
      fake.cancelled = [];
      const message = await firstMessage(sh);
      assert.equal(message.payload.value.sequence, 7n);
      await eventually(() => fake.cancelled.length === 1);
    } finally {
      sh.close();
    }
  });

  test('a process that breaks out of a subscription and closes the client exits', TIMEOUT, async () => {
    const { code, output } = await breakAndCloseInChild(target, { token: SECRET });
    assert.equal(code, 0, output);
    assert.match(output, /received heartbeat\nclosed\n/);
  });

  test('close() cancels the streams still open: their loops fail with CANCELLED', TIMEOUT, async () => {
    const sh = connect(target);
    fake.cancelled = [];
    const error = await rejection(
      (async () => {
        for await (const _ of sh.events.subscribe({ fromLatest: true })) sh.close();
      })(),
    );
    assert.ok(error instanceof StatehouseError, String(error));
    assert.equal(error.codeName, 'CANCELLED');
    await eventually(() => fake.cancelled.length === 1);
  });

  test('a subscription that fails with UNAVAILABLE reopens after its last sequence, by itself', TIMEOUT, async () => {
    const sh = connect(target);
    try {
      fake.subscribeRequests = [];
      const reconnects = [];
      const stream = sh.events.subscribe(
        { filter: { namespace: 'flaky' }, afterSequence: 0n },
        { onReconnect: (info) => reconnects.push([info.attempt, info.error?.codeName, info.lastSequence]) },
      );
      const seen = [];
      for await (const message of stream) {
        seen.push(message.payload.value.sequence);
        if (seen.length === 4) break;
      }
      assert.deepEqual(seen, [1n, 2n, 3n, 4n]);
      assert.deepEqual(
        fake.subscribeRequests.map((r) => r.afterSequence),
        [0n, 2n],
      );
      assert.deepEqual(reconnects, [[1, 'UNAVAILABLE', 2n]]);
      assert.equal(stream.opens, 2);
      assert.equal(stream.duplicatesDropped, 0);
    } finally {
      sh.close();
    }
  });
});

describe('several events per message', () => {
  let fake;
  let target;
  before(async () => {
    fake = new RecordingServer();
    target = await fake.start();
  });
  after(() => fake.stop());

  /** What a subscription hands over: "sequence" per event, "heartbeat sequence" per heartbeat. */
  async function received(stream) {
    const items = [];
    for await (const message of stream) {
      const { sequence } = message.payload.value;
      items.push(message.payload.case === 'event' ? String(sequence) : `heartbeat ${sequence}`);
    }
    return items;
  }

  test('are asked for and handed over one by one, in order, each once', TIMEOUT, async () => {
    const sh = connect(target);
    try {
      fake.subscribeRequests = [];
      // retry false: the fake server ends the stream, which would otherwise be reopened.
      const stream = sh.events.subscribe({ filter: { namespace: 'batches' }, afterSequence: 0n }, { retry: false });
      assert.deepEqual(await received(stream), ['1', '2', '3', '4', 'heartbeat 6', '7', '8']);
      assert.equal(fake.subscribeRequests[0].maxEventsPerMessage, 1000);
      assert.deepEqual(
        [stream.messagesReceived, stream.eventsReceived, stream.duplicatesDropped],
        [BATCHES.length, 10, 4],
      );

      // A cursor in the middle of a message; the request's own maxEventsPerMessage.
      const resumed = sh.events.subscribe(
        { filter: { namespace: 'batches' }, afterSequence: 2n, maxEventsPerMessage: 0 },
        { retry: false },
      );
      assert.deepEqual(await received(resumed), ['3', '4', 'heartbeat 6', '7', '8']);
      assert.equal(fake.subscribeRequests[1].maxEventsPerMessage, 0);
      assert.equal(resumed.duplicatesDropped, 6);
    } finally {
      sh.close();
    }
  });

  test('breaking out in the middle of a message cancels the stream', TIMEOUT, async () => {
    const sh = connect(target);
    try {
      fake.cancelled = [];
      const stream = sh.events.subscribe({ filter: { namespace: 'open-batch' }, afterSequence: 0n });
      for await (const message of stream) {
        assert.equal(message.payload.value.sequence, 1n);
        break;
      }
      assert.ok(stream.done);
      assert.equal(stream.eventsReceived, 3);
      await eventually(() => fake.cancelled.length === 1);
    } finally {
      sh.close();
    }
  });
});

describe('TLS', { skip: TLS_DIR ? false : 'STATEHOUSE_TEST_TLS_DIR is not set' }, () => {
  let fake;
  let target;
  let mtls;
  let mtlsTarget;
  before(async () => {
    const pair = { cert: fs.readFileSync(tlsFile('server.crt')), key: fs.readFileSync(tlsFile('server.key')) };
    fake = new RecordingServer();
    target = await fake.start(pair);
    mtls = new RecordingServer();
    mtlsTarget = await mtls.start({
      ...pair,
      ca: fs.readFileSync(tlsFile('clients-ca.pem')),
      requestCert: true,
      rejectUnauthorized: true,
    });
  });
  after(() => {
    fake.stop();
    mtls.stop();
  });

  test('the token goes on unary calls, streams and the AdminService', async () => {
    const sh = connect(target, { token: SECRET, tls: { ca: tlsFile('ca.pem'), serverName: 'localhost' } });
    try {
      fake.calls = [];
      await sh.executions.getExecution({ executionId: 'e1' });
      await firstMessage(sh);
      await sh.admin.listTokens({});
      assert.deepEqual(fake.authorizations(), Array(3).fill(`Bearer ${SECRET}`));
    } finally {
      sh.close();
    }
  });

  test('the CA may be a Buffer, PEM text, a path or STATEHOUSE_TLS_CA', async () => {
    const pem = fs.readFileSync(tlsFile('ca.pem'));
    process.env.STATEHOUSE_TLS_CA = tlsFile('ca.pem');
    try {
      const clients = [
        connect(target, { tls: { ca: pem } }),
        connect(target, { tls: { ca: pem.toString() } }),
        connect(target, { tls: { ca: tlsFile('ca.pem') } }),
        connect(target, { tls: true }), // the CA from the environment
        connect(target), // TLS because STATEHOUSE_TLS_CA is set
      ];
      for (const sh of clients) {
        assert.equal((await sh.executions.getExecution({ executionId: 'e1' })).execution.id, 'e1');
        sh.close();
      }
      // tls: false forces plaintext, which a TLS server refuses.
      const plain = connect(target, { tls: false, retry: NO_RETRY });
      const error = await rejection(plain.executions.getExecution({ executionId: 'e1' }));
      assert.ok(error instanceof StatehouseError, String(error));
      plain.close();
    } finally {
      delete process.env.STATEHOUSE_TLS_CA;
    }
  });

  test('without the CA, or with another CA, the handshake fails (UNAVAILABLE)', async () => {
    for (const tls of [true, { ca: tlsFile('other-ca.pem') }]) {
      const sh = connect(target, { token: SECRET, tls, retry: NO_RETRY });
      const error = await rejection(sh.executions.getExecution({ executionId: 'e1' }));
      assert.ok(error instanceof StatehouseError);
      assert.equal(error.codeName, 'UNAVAILABLE', String(error));
      sh.close();
    }
  });

  test('mTLS: a client certificate and key (paths or Buffers) are presented', async () => {
    const withPaths = connect(mtlsTarget, {
      token: SECRET,
      tls: { ca: tlsFile('ca.pem'), cert: tlsFile('client.crt'), key: tlsFile('client.key') },
    });
    const withBuffers = connect(mtlsTarget, {
      tls: {
        ca: fs.readFileSync(tlsFile('ca.pem')),
        cert: fs.readFileSync(tlsFile('client.crt')),
        key: fs.readFileSync(tlsFile('client.key')),
      },
    });
    const without = connect(mtlsTarget, { tls: { ca: tlsFile('ca.pem') }, retry: NO_RETRY });
    try {
      mtls.calls = [];
      await withPaths.executions.getExecution({ executionId: 'e1' });
      await firstMessage(withPaths);
      await withBuffers.executions.getExecution({ executionId: 'e1' });
      assert.deepEqual(mtls.authorizations(), [`Bearer ${SECRET}`, `Bearer ${SECRET}`, null]);
      const error = await rejection(without.executions.getExecution({ executionId: 'e1' }));
      assert.ok(error instanceof StatehouseError, String(error));
      assert.equal(error.codeName, 'UNAVAILABLE', String(error));
    } finally {
      for (const sh of [withPaths, withBuffers, without]) sh.close();
    }
  });

  test('incomplete or unreadable TLS settings are refused at connect', () => {
    assert.throws(() => connect(target, { tls: { cert: tlsFile('client.crt') } }), /cert and tls.key go together/);
    assert.throws(() => connect(target, { tls: { ca: tlsFile('missing.pem') } }), /cannot read the TLS ca/);
  });
});
