// The client's pure parts, without a server: the subscription cursor (where
// to resume, what to drop), the retry rules and request ids, and the checks a
// request passes before it is sent. The same cases as the Go client's
// cursor_test.go and retry_test.go.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { create } from '@bufbuild/protobuf';
import {
  backoffMs,
  DEFAULT_RETRY,
  isIdempotent,
  refusal,
  SubscribeRequestSchema,
  SubscribeResponseSchema,
  SubscriptionCursor,
  TransitionTaskRunRequestSchema,
  withRequestId,
} from '../lib/src/index.js';

const event = (sequence) => ({ sequence: BigInt(sequence), executionId: `e${sequence}` });
const batch = (...sequences) => create(SubscribeResponseSchema, { events: sequences.map(event) });
const heartbeat = (sequence) =>
  create(SubscribeResponseSchema, { payload: { case: 'heartbeat', value: { sequence: BigInt(sequence) } } });
const sequences = (messages) => messages.map((m) => m.payload.value.sequence);

test('a cursor asks for batches and resumes after the last event handed over', () => {
  const cursor = new SubscriptionCursor({ filter: { namespace: 'n' }, afterSequence: 5n });
  assert.deepEqual(
    [cursor.request().afterSequence, cursor.request().maxEventsPerMessage, cursor.request().fromLatest],
    [5n, 1000, false],
  );
  assert.deepEqual(sequences(cursor.receive(batch(6, 7, 8))), [6n, 7n, 8n]);
  assert.equal(cursor.request().afterSequence, 8n);
  assert.deepEqual(cursor.request().filter, { namespace: 'n' });
});

test('a cursor drops what it already handed over, in a batch or alone', () => {
  const cursor = new SubscriptionCursor({ afterSequence: 2n });
  assert.deepEqual(sequences(cursor.receive(batch(1, 2, 3))), [3n]);
  assert.deepEqual(sequences(cursor.receive(batch(3, 4))), [4n]);
  assert.deepEqual(cursor.receive(batch(4)), []);
  assert.deepEqual([cursor.eventsReceived, cursor.duplicatesDropped, cursor.messagesReceived], [6, 4, 3]);
});

test('heartbeats move the cursor and are handed over as they are', () => {
  const cursor = new SubscriptionCursor({ afterSequence: 0n });
  assert.deepEqual(
    cursor.receive(heartbeat(10)).map((m) => m.payload.case),
    ['heartbeat'],
  );
  assert.equal(cursor.lastSequence, 10n);
  assert.deepEqual(sequences(cursor.receive(batch(9, 11))), [11n]);
  cursor.receive(heartbeat(4)); // behind: the cursor stays
  assert.equal(cursor.lastSequence, 11n);
});

test('a fromLatest cursor learns its start from the header, and resumes from it', () => {
  const cursor = new SubscriptionCursor({ fromLatest: true });
  assert.equal(cursor.lastSequence, null);
  assert.equal(cursor.request().fromLatest, true);
  cursor.started('not a number');
  assert.equal(cursor.lastSequence, null);
  cursor.started('42');
  assert.deepEqual([cursor.startSequence, cursor.lastSequence], [42n, 42n]);
  // Reopened: after where it started, not from the newest event again.
  assert.deepEqual([cursor.request().fromLatest, cursor.request().afterSequence], [false, 42n]);
  // A later acceptance says where that stream starts, and does not move the cursor back.
  cursor.receive(batch(43));
  cursor.started('43');
  assert.deepEqual([cursor.startSequence, cursor.lastSequence], [43n, 43n]);
});

test('reads and changes with request ids are retried; other changes are not', () => {
  assert.ok(isIdempotent('GetExecution', {}));
  assert.ok(isIdempotent('ListExecutions', {}));
  assert.ok(isIdempotent('CountExecutions', {}));
  assert.ok(isIdempotent('AggregateMetrics', {}));
  assert.ok(!isIdempotent('CreateExecution', { namespace: 'n' }));
  assert.ok(isIdempotent('CreateExecution', { requestId: 'r' }));
  assert.ok(!isIdempotent('ClaimTaskRuns', {}));
  assert.ok(!isIdempotent('TransitionTaskRuns', { requests: [] }));
  assert.ok(!isIdempotent('TransitionTaskRuns', { requests: [{ requestId: 'a' }, {}] }));
  assert.ok(isIdempotent('TransitionTaskRuns', withRequestId({ requests: [{ requestId: 'a' }, {}] })));
});

test('withRequestId gives an id where there is none, keeps one that is there, and copies', () => {
  const request = { namespace: 'n' };
  const given = withRequestId(request);
  assert.match(given.requestId, /^[0-9a-f]{32}$/);
  assert.equal(request.requestId, undefined);
  assert.notEqual(withRequestId(request).requestId, given.requestId);
  assert.equal(withRequestId({ requestId: 'mine' }).requestId, 'mine');
  const items = withRequestId({ requests: [{ requestId: 'a' }, { taskRunId: 't' }] }).requests;
  assert.equal(items[0].requestId, 'a');
  assert.match(items[1].requestId, /^[0-9a-f]{32}$/);
});

test('the backoff grows by the multiplier up to its bound, shortened by at most the jitter', () => {
  const none = () => 0;
  const most = () => 1;
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6, 7].map((n) => backoffMs(DEFAULT_RETRY, n, none)),
    [100, 200, 400, 800, 1600, 3000, 3000],
  );
  assert.equal(backoffMs(DEFAULT_RETRY, 1, most), 80);
});

test('a request is checked against its descriptor: unknown fields and enum values, nested and in oneofs', () => {
  assert.equal(refusal(TransitionTaskRunRequestSchema, { taskRunId: 't', state: 2 }), null);
  const error = refusal(TransitionTaskRunRequestSchema, { task_run_id: 't', state: 'STATE_RUNNING' });
  assert.equal(error.codeName, 'INVALID_ARGUMENT');
  assert.equal(error.reason, 'MALFORMED_REQUEST');
  assert.deepEqual(
    error.fieldViolations.map((v) => [v.field, v.description]),
    [
      ['task_run_id', 'is not a field of TransitionTaskRunRequest: did you mean taskRunId?'],
      ['state', '"STATE_RUNNING" is not a value of State: use State.RUNNING (2)'],
    ],
  );
  const nested = refusal(SubscribeRequestSchema, { filter: { states: [2, 42], flow: 'x' } });
  assert.deepEqual(
    nested.fieldViolations.map((v) => v.field),
    ['filter.states[1]', 'filter.flow'],
  );
  // A message made with create() is the schema's own: not checked again.
  assert.equal(refusal(SubscribeRequestSchema, create(SubscribeRequestSchema, {})), null);
});
