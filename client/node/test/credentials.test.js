'use strict';
// The client's credentials and stream handling, against a small grpc-js server
// in this process that serves the Statehouse services and records the metadata
// of every call: no Statehouse needed. The TLS cases need certificates in
// STATEHOUSE_TEST_TLS_DIR (ca.pem, server.crt, server.key, other-ca.pem,
// clients-ca.pem, client.crt, client.key), which
// tests/integration/test_node_client.py makes; without it they are skipped.

const { test, before, after, describe } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const protobuf = require('protobufjs');
const { connect, loadApi, isLoopback, StatehouseError, grpc } = require('../src');
const { breakAndCloseInChild, eventually, firstMessage } = require('./support');

const TLS_DIR = process.env.STATEHOUSE_TEST_TLS_DIR;
const tlsFile = (name) => path.join(TLS_DIR, name);
const SECRET = 'sh_test.0123456789abcdef';
const TIMEOUT = { timeout: 10_000 }; // a stream left open must fail a test, not hang the run

// The client's environment fallbacks must not leak in from the caller's shell.
delete process.env.STATEHOUSE_TOKEN;
delete process.env.STATEHOUSE_TLS_CA;

/** google.rpc.Status, to send errors as the Statehouse server does. */
const rpcRoot = (() => {
  const root = new protobuf.Root();
  const thirdParty = path.resolve(__dirname, '..', 'third_party');
  root.resolvePath = (_origin, target) =>
    target.startsWith('google/protobuf/') ? target : path.join(thirdParty, target);
  root.loadSync(['google/rpc/status.proto', 'google/rpc/error_details.proto'], { keepCase: true });
  return root;
})();

function statusError(code, message, reason, metadata = {}) {
  const ErrorInfo = rpcRoot.lookupType('google.rpc.ErrorInfo');
  const Status = rpcRoot.lookupType('google.rpc.Status');
  const info = ErrorInfo.encode({ reason, domain: 'statehouse', metadata }).finish();
  const status = Status.encode({
    code,
    message,
    details: [{ type_url: 'type.googleapis.com/google.rpc.ErrorInfo', value: info }],
  }).finish();
  const trailers = new grpc.Metadata();
  trailers.set('grpc-status-details-bin', Buffer.from(status));
  return { code, details: message, metadata: trailers };
}

const event = (sequence) => ({ sequence: String(sequence), execution_id: `e${sequence}` });
/** Subscribe messages with several events each, some again (at or below the cursor). */
const BATCHES = [
  { events: [event(1), event(2), event(3)] },
  { events: [event(3), event(4)] },
  { events: [event(2)] }, // nothing new: the client must read on
  { event: event(2) },
  { heartbeat: { sequence: '6' } },
  { events: [event(5), event(7)] }, // 5 is at or below the heartbeat
  { event: event(8) },
];

/**
 * A server of the Statehouse services that records every call as
 * { method, authorization } and answers by the request: execution_id
 * "unauthenticated" or "denied" fail as an auth-enabled server would.
 */
class RecordingServer {
  constructor() {
    this.calls = [];
    this.cancelled = [];
    this.subscribeRequests = [];
    this.server = new grpc.Server();
    const api = loadApi();
    const record = (method, call) => {
      const values = call.metadata.get('authorization');
      this.calls.push({ method, authorization: values.length ? String(values[0]) : null });
    };
    const refusal = (id) => {
      if (id === 'unauthenticated') {
        return statusError(grpc.status.UNAUTHENTICATED, 'a valid bearer token is required', 'UNAUTHENTICATED');
      }
      if (id === 'denied') {
        return statusError(grpc.status.PERMISSION_DENIED, 'writer may not read namespace x', 'PERMISSION_DENIED', {
          namespace: 'x',
        });
      }
      return null;
    };
    this.server.addService(api.ExecutionService.service, {
      getExecution: (call, callback) => {
        record('GetExecution', call);
        const error = refusal(call.request.execution_id);
        if (error) callback(error);
        else callback(null, { execution: { id: call.request.execution_id, namespace: 'fake' } });
      },
    });
    this.server.addService(api.EventService.service, {
      // One heartbeat at once, then open until the client cancels; namespace
      // "batches": BATCHES, then the end; "open-batch": BATCHES[0], then open.
      subscribe: (call) => {
        record('Subscribe', call);
        this.subscribeRequests.push(call.request);
        call.on('cancelled', () => this.cancelled.push('Subscribe'));
        const error = refusal(call.request.filter?.namespace);
        if (error) {
          call.emit('error', error);
          return;
        }
        if (call.request.filter?.namespace === 'batches') {
          for (const message of BATCHES) call.write(message);
          call.end();
          return;
        }
        if (call.request.filter?.namespace === 'open-batch') {
          call.write(BATCHES[0]);
          return;
        }
        call.write({ heartbeat: { sequence: '7' } });
      },
    });
    this.server.addService(api.AdminService.service, {
      listTokens: (call, callback) => {
        record('ListTokens', call);
        callback(null, { tokens: [{ name: 'admin', role: 'ROLE_ADMIN', namespaces: ['*'] }] });
      },
      createToken: (call, callback) => {
        record('CreateToken', call);
        callback(null, { token: { name: call.request.name, role: call.request.role }, secret: 'new-secret' });
      },
      revokeToken: (call, callback) => {
        record('RevokeToken', call);
        callback(null, { token: { name: call.request.name } });
      },
    });
  }

  /** Listens on 127.0.0.1 (plaintext, or with these ServerCredentials); returns "127.0.0.1:port". */
  start(credentials = grpc.ServerCredentials.createInsecure()) {
    return new Promise((resolve, reject) => {
      this.server.bindAsync('127.0.0.1:0', credentials, (error, port) =>
        error ? reject(error) : resolve(`127.0.0.1:${port}`),
      );
    });
  }

  stop() {
    this.server.forceShutdown();
  }

  authorizations(method) {
    return this.calls.filter((c) => !method || c.method === method).map((c) => c.authorization);
  }
}

async function rejection(promise) {
  return promise.then(
    (value) => assert.fail(`expected a rejection, got ${JSON.stringify(value)}`),
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
      const { execution } = await sh.executions.getExecution({ execution_id: 'e1' });
      assert.equal(execution.id, 'e1');
      const message = await firstMessage(sh);
      assert.equal(message.payload, 'heartbeat');
      const { tokens } = await sh.admin.listTokens({});
      assert.deepEqual(
        tokens.map((t) => [t.name, t.role]),
        [['admin', 'ROLE_ADMIN']],
      );
      const created = await sh.admin.createToken({ name: 'w', role: 'ROLE_WRITER', namespaces: ['a'] });
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
      await sh.executions.getExecution({ execution_id: 'e1' });
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
      await fromEnv.executions.getExecution({ execution_id: 'e1' });
      await firstMessage(fromEnv);
      await explicit.executions.getExecution({ execution_id: 'e1' });
      await none.executions.getExecution({ execution_id: 'e1' });
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
      const unauthenticated = await rejection(sh.executions.getExecution({ execution_id: 'unauthenticated' }));
      assert.ok(unauthenticated instanceof StatehouseError, String(unauthenticated));
      assert.equal(unauthenticated.code, grpc.status.UNAUTHENTICATED);
      assert.equal(unauthenticated.codeName, 'UNAUTHENTICATED');
      assert.equal(unauthenticated.reason, 'UNAUTHENTICATED');
      assert.equal(unauthenticated.domain, 'statehouse');
      assert.equal(unauthenticated.message, 'a valid bearer token is required');

      const denied = await rejection(sh.executions.getExecution({ execution_id: 'denied' }));
      assert.ok(denied instanceof StatehouseError, String(denied));
      assert.equal(denied.codeName, 'PERMISSION_DENIED');
      assert.equal(denied.reason, 'PERMISSION_DENIED');
      assert.deepEqual(denied.metadata, { namespace: 'x' });

      // The same on a stream.
      const streamed = await rejection(firstMessage(sh, { filter: { namespace: 'denied' } }));
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
    for (const local of [
      '127.0.0.1:1',
      'localhost:1',
      '[::1]:1',
      'dns:///localhost:1',
      'ipv4:127.0.0.2:1',
      'unix:/tmp/s',
    ]) {
      assert.ok(isLoopback(local), local);
    }
    for (const remote of [
      '10.0.0.1:1',
      'example.com:1',
      '[2001:db8::1]:1',
      'dns:///example.com:1',
      '127.example.com:1',
    ]) {
      assert.ok(!isLoopback(remote), remote);
    }
  });

  test('a token with characters a header cannot carry is refused', () => {
    assert.throws(() => connect(target, { token: 'abc\ndef' }), /printable ASCII/);
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
      assert.equal(message.heartbeat.sequence, '7');
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

  test('close() cancels the streams still open: their consumers get CANCELLED', TIMEOUT, async () => {
    const sh = connect(target);
    fake.cancelled = [];
    const call = sh.events.subscribe({ from_latest: true });
    const outcome = new Promise((resolve) => {
      call.on('data', () => sh.close());
      call.on('error', resolve);
    });
    const error = await outcome;
    assert.ok(error instanceof StatehouseError, String(error));
    assert.equal(error.codeName, 'CANCELLED');
    await eventually(() => fake.cancelled.length === 1);
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
      items.push(message.payload === 'event' ? message.event.sequence : `heartbeat ${message.heartbeat.sequence}`);
    }
    return items;
  }

  test('are asked for and handed over one by one, in order, each once', TIMEOUT, async () => {
    const sh = connect(target);
    try {
      fake.subscribeRequests = [];
      const stream = sh.events.subscribe({ filter: { namespace: 'batches' }, after_sequence: '0' });
      assert.deepEqual(await received(stream), ['1', '2', '3', '4', 'heartbeat 6', '7', '8']);
      assert.equal(fake.subscribeRequests[0].max_events_per_message, 1000);
      assert.deepEqual(
        [stream.messagesReceived, stream.eventsReceived, stream.duplicatesDropped],
        [BATCHES.length, 10, 4],
      );

      // A cursor in the middle of a message; the request's own max_events_per_message.
      const resumed = sh.events.subscribe({
        filter: { namespace: 'batches' },
        after_sequence: '2',
        max_events_per_message: 0,
      });
      assert.deepEqual(await received(resumed), ['3', '4', 'heartbeat 6', '7', '8']);
      assert.equal(fake.subscribeRequests[1].max_events_per_message, 0);
      assert.equal(resumed.duplicatesDropped, 6);
    } finally {
      sh.close();
    }
  });

  test('breaking out in the middle of a message cancels the stream', TIMEOUT, async () => {
    const sh = connect(target);
    try {
      fake.cancelled = [];
      const stream = sh.events.subscribe({ filter: { namespace: 'open-batch' }, after_sequence: '0' });
      for await (const message of stream) {
        assert.equal(message.event.sequence, '1');
        break;
      }
      assert.ok(stream.destroyed);
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
    const pair = [
      { cert_chain: fs.readFileSync(tlsFile('server.crt')), private_key: fs.readFileSync(tlsFile('server.key')) },
    ];
    fake = new RecordingServer();
    target = await fake.start(grpc.ServerCredentials.createSsl(null, pair, false));
    mtls = new RecordingServer();
    mtlsTarget = await mtls.start(
      grpc.ServerCredentials.createSsl(fs.readFileSync(tlsFile('clients-ca.pem')), pair, true),
    );
  });
  after(() => {
    fake.stop();
    mtls.stop();
  });

  test('the token goes as call credentials on unary calls, streams and the AdminService', async () => {
    const sh = connect(target, { token: SECRET, tls: { ca: tlsFile('ca.pem'), serverName: 'localhost' } });
    try {
      fake.calls = [];
      await sh.executions.getExecution({ execution_id: 'e1' });
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
        assert.equal((await sh.executions.getExecution({ execution_id: 'e1' })).execution.id, 'e1');
        sh.close();
      }
      // tls: false forces plaintext, which a TLS server refuses.
      const plain = connect(target, { tls: false });
      const error = await rejection(plain.executions.getExecution({ execution_id: 'e1' }));
      assert.equal(error.codeName, 'UNAVAILABLE');
      plain.close();
    } finally {
      delete process.env.STATEHOUSE_TLS_CA;
    }
  });

  test('without the CA, or with another CA, the handshake fails (UNAVAILABLE)', async () => {
    for (const tls of [true, { ca: tlsFile('other-ca.pem') }]) {
      const sh = connect(target, { token: SECRET, tls });
      const error = await rejection(sh.executions.getExecution({ execution_id: 'e1' }));
      assert.ok(error instanceof StatehouseError);
      assert.equal(error.codeName, 'UNAVAILABLE', String(error));
      sh.close();
    }
    const plain = connect(target);
    assert.equal((await rejection(plain.executions.getExecution({ execution_id: 'e1' }))).codeName, 'UNAVAILABLE');
    plain.close();
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
    const without = connect(mtlsTarget, { tls: { ca: tlsFile('ca.pem') } });
    try {
      mtls.calls = [];
      await withPaths.executions.getExecution({ execution_id: 'e1' });
      await firstMessage(withPaths);
      await withBuffers.executions.getExecution({ execution_id: 'e1' });
      assert.deepEqual(mtls.authorizations(), [`Bearer ${SECRET}`, `Bearer ${SECRET}`, null]);
      const error = await rejection(without.executions.getExecution({ execution_id: 'e1' }));
      assert.equal(error.codeName, 'UNAVAILABLE');
    } finally {
      for (const sh of [withPaths, withBuffers, without]) sh.close();
    }
  });

  test('incomplete or unreadable TLS settings are refused at connect', () => {
    assert.throws(() => connect(target, { tls: { cert: tlsFile('client.crt') } }), /cert and tls.key go together/);
    assert.throws(() => connect(target, { tls: { ca: tlsFile('missing.pem') } }), /cannot read the TLS ca/);
    assert.throws(
      () => connect(target, { tls: true, credentials: grpc.credentials.createInsecure() }),
      /either credentials or tls/,
    );
  });
});
