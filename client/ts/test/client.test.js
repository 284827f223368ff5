// The client against a real Statehouse: STATEHOUSE_TARGET=host:port.
// Run by tests/integration/test_js_client.py (make test), which starts the
// Python server; by hand: STATEHOUSE_TARGET=127.0.0.1:50051 node --test client/ts/test/
// (STATEHOUSE_TOKEN and STATEHOUSE_TLS_CA apply, for a server with --auth or TLS).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { connect, Code, State, StatehouseError, withRequestId } from '../lib/src/node.js';
import { breakAndCloseInChild, runInChild } from './support.js';

const TARGET = process.env.STATEHOUSE_TARGET;
const DEADLINE_MS = 20_000;

let sh;

before(() => {
  assert.ok(TARGET, 'set STATEHOUSE_TARGET to the address of a running server (host:port)');
  sh = connect(TARGET);
});

after(() => {
  if (sh) sh.close();
});

function uniqueFlow(prefix) {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

/** Reads `count` events from a subscription, with a deadline, then leaves it. */
async function collectEvents(subscription, count) {
  const events = [];
  const timer = setTimeout(() => subscription.cancel(), DEADLINE_MS);
  try {
    for await (const message of subscription) {
      if (message.payload.case !== 'event') continue;
      events.push(message.payload.value);
      if (events.length === count) return events;
    }
  } finally {
    clearTimeout(timer);
  }
  throw new Error(`received ${events.length} of ${count} events before the deadline`);
}

const rejection = (promise) =>
  promise.then(
    (value) => assert.fail(`expected a failure, got ${value}`),
    (error) => error,
  );

test('creates an execution and task runs, drives the lifecycle, receives the events in order', async () => {
  const flowId = uniqueFlow('etl');
  const request = withRequestId({
    namespace: 'node.test',
    flowId,
    labels: { team: 'data' },
    inputs: { source: 's3://bucket/input', partitions: [1, 2], dry_run: false },
  });
  const { execution } = await sh.executions.createExecution(request);
  assert.equal(execution.state, State.CREATED);
  assert.equal(execution.revision, 1n);
  assert.deepEqual(execution.labels, { team: 'data' });
  assert.deepEqual(execution.inputs, { source: 's3://bucket/input', partitions: [1, 2], dry_run: false });
  assert.match(request.requestId, /^[0-9a-f]{32}$/);

  // The same request id with the same content returns the first result.
  const again = await sh.executions.createExecution(request);
  assert.equal(again.execution.id, execution.id);

  // Replay from the start of the log, filtered to this execution, then live.
  const subscription = sh.events.subscribe({ filter: { executionIds: [execution.id] }, afterSequence: 0n });
  const received = collectEvents(subscription, 9);

  const a = (await sh.executions.createTaskRun({ executionId: execution.id, taskId: 'extract' })).taskRun;
  const b = (await sh.executions.createTaskRun({ executionId: execution.id, taskId: 'load' })).taskRun;
  assert.equal(a.state, State.CREATED);

  const started = await sh.executions.transitionTaskRun({
    taskRunId: a.id,
    state: State.RUNNING,
    workerId: 'node-worker-1',
  });
  assert.equal(started.taskRun.state, State.RUNNING);
  assert.equal(started.executionState, State.RUNNING);
  assert.equal(started.taskRun.attempts.length, 1);
  assert.equal(started.taskRun.attempts[0].number, 1);
  assert.equal(started.taskRun.attempts[0].workerId, 'node-worker-1');

  const done = await sh.executions.transitionTaskRun({
    taskRunId: a.id,
    state: State.SUCCESS,
    outputs: { rows: 42, files: { written: ['a.parquet'] } },
    expectedRevision: started.executionRevision,
  });
  assert.deepEqual(done.taskRun.outputs, { rows: 42, files: { written: ['a.parquet'] } });
  assert.equal(done.taskRun.attempts[0].state, State.SUCCESS);

  await sh.executions.transitionTaskRun({ taskRunId: b.id, state: State.RUNNING });
  await sh.executions.transitionTaskRun({ taskRunId: b.id, state: State.FAILED, reason: 'disk full' });
  const completed = await sh.executions.completeExecution({ executionId: execution.id, reason: 'load failed' });
  assert.equal(completed.execution.state, State.FAILED); // derived from the task runs

  const events = await received;
  const names = { '': 'execution', [a.id]: 'extract', [b.id]: 'load' };
  assert.deepEqual(
    events.map((e) => [names[e.taskRunId], State[e.previousState], State[e.state]]),
    [
      ['execution', 'UNSPECIFIED', 'CREATED'],
      ['extract', 'UNSPECIFIED', 'CREATED'],
      ['load', 'UNSPECIFIED', 'CREATED'],
      ['extract', 'CREATED', 'RUNNING'],
      ['execution', 'CREATED', 'RUNNING'],
      ['extract', 'RUNNING', 'SUCCESS'],
      ['load', 'CREATED', 'RUNNING'],
      ['load', 'RUNNING', 'FAILED'],
      ['execution', 'RUNNING', 'FAILED'],
    ],
  );
  for (let i = 1; i < events.length; i += 1) {
    assert.ok(events[i].sequence > events[i - 1].sequence, 'sequences increase');
    assert.ok(events[i].executionRevision >= events[i - 1].executionRevision, 'revisions never decrease');
  }
  assert.ok(events.every((e) => e.executionId === execution.id && e.flowId === flowId));
  assert.ok(events.every((e) => typeof e.actor === 'string'), 'every event has an actor');
  assert.equal(events[7].reason, 'disk full');
  assert.equal(events[8].reason, 'load failed');

  // Resuming after the fifth event returns exactly the last four.
  const resumed = await collectEvents(
    sh.events.subscribe({ filter: { executionIds: [execution.id] }, afterSequence: events[4].sequence }),
    4,
  );
  assert.deepEqual(
    resumed.map((e) => e.sequence),
    events.slice(5).map((e) => e.sequence),
  );

  // The stored execution agrees with the stream.
  const { execution: stored } = await sh.executions.getExecution({ executionId: execution.id });
  assert.equal(stored.state, State.FAILED);
  assert.equal(stored.revision, events[8].executionRevision);
  assert.deepEqual(
    stored.history.map((h) => h.state),
    [State.CREATED, State.RUNNING, State.FAILED],
  );
  assert.deepEqual(
    stored.taskRuns.map((t) => [t.taskId, t.state]),
    [
      ['extract', State.SUCCESS],
      ['load', State.FAILED],
    ],
  );

  // FollowExecution on a terminal execution sends one snapshot and ends.
  const snapshots = [];
  for await (const message of sh.events.followExecution({ executionId: execution.id })) {
    snapshots.push(message.execution);
  }
  assert.equal(snapshots.length, 1);
  assert.equal(snapshots[0].state, State.FAILED);

  const listed = await sh.executions.listExecutions({ namespace: 'node.test', flowId });
  assert.deepEqual(
    listed.executions.map((e) => e.id),
    [execution.id],
  );
});

test('a subscription behind the log gets several events per message, handed over one by one', async () => {
  const flowId = uniqueFlow('batches');
  const ids = [];
  for (let i = 0; i < 300; i += 1) {
    const { execution } = await sh.executions.createExecution({ namespace: 'node.test', flowId });
    ids.push(execution.id);
  }
  const filter = { namespace: 'node.test', flowId };

  // The replay from the start: every event once, in order, several to a message.
  const replay = sh.events.subscribe({ filter, afterSequence: 0n });
  const events = await collectEvents(replay, 300);
  assert.deepEqual(
    events.map((e) => e.executionId),
    ids,
  );
  assert.equal(replay.eventsReceived, 300);
  assert.equal(replay.duplicatesDropped, 0);
  assert.ok(replay.messagesReceived < 300, `${replay.messagesReceived} messages for 300 events`);

  // Resuming after an event in the middle of a message: exactly the events after it.
  const resumed = sh.events.subscribe({ filter, afterSequence: events[149].sequence });
  const rest = await collectEvents(resumed, 150);
  assert.deepEqual(
    rest.map((e) => e.sequence),
    events.slice(150).map((e) => e.sequence),
  );
  assert.ok(resumed.messagesReceived < 150, `${resumed.messagesReceived} messages for 150 events`);

  // Leaving the loop in the middle of a message cancels the stream: no more events.
  const left = sh.events.subscribe({ filter, afterSequence: 0n });
  const seen = [];
  for await (const message of left) {
    seen.push(message.payload.value.sequence);
    if (seen.length === 10) break;
  }
  assert.deepEqual(
    seen,
    events.slice(0, 10).map((e) => e.sequence),
  );
  assert.ok(left.done);
  assert.ok(left.eventsReceived > 10, `${left.eventsReceived} events received: the break was not mid-message`);

  // maxEventsPerMessage 0 (or 1): one event per message, as servers before it.
  const single = sh.events.subscribe({ filter, afterSequence: events[289].sequence, maxEventsPerMessage: 0 });
  assert.equal((await collectEvents(single, 10)).length, 10);
  assert.equal(single.messagesReceived, 10);
});

test('an illegal transition fails with FAILED_PRECONDITION and an ErrorInfo INVALID_TRANSITION', async () => {
  const { execution } = await sh.executions.createExecution({ namespace: 'node.test', flowId: uniqueFlow('errors') });
  const { taskRun } = await sh.executions.createTaskRun({ executionId: execution.id, taskId: 'extract' });
  const error = await rejection(sh.executions.transitionTaskRun({ taskRunId: taskRun.id, state: State.SUCCESS }));
  assert.ok(error instanceof StatehouseError, String(error));
  assert.equal(error.code, Code.FailedPrecondition);
  assert.equal(error.codeName, 'FAILED_PRECONDITION');
  assert.equal(error.reason, 'INVALID_TRANSITION');
  assert.equal(error.domain, 'statehouse');
  assert.deepEqual(error.metadata, { current_state: 'CREATED', requested_state: 'SUCCESS' });
  assert.ok(error.details.some((d) => d.type === 'google.rpc.ErrorInfo'));
  assert.deepEqual(error.preconditionFailures, [
    { type: 'INVALID_TRANSITION', subject: `taskRuns/${taskRun.id}`, description: error.message },
  ]);
  assert.match(error.message, /CREATED/);
});

test('a stale expectedRevision fails with ABORTED, REVISION_MISMATCH and both revisions', async () => {
  const { execution } = await sh.executions.createExecution({ namespace: 'node.test', flowId: uniqueFlow('rev') });
  await sh.executions.transitionExecution({ executionId: execution.id, state: State.RUNNING });
  const error = await rejection(
    sh.executions.transitionExecution({
      executionId: execution.id,
      state: State.SUCCESS,
      expectedRevision: execution.revision,
    }),
  );
  assert.equal(error.codeName, 'ABORTED');
  assert.equal(error.reason, 'REVISION_MISMATCH');
  assert.equal(error.metadata.expected_revision, String(execution.revision));
  assert.equal(error.metadata.current_revision, String(execution.revision + 1n));
});

test('a malformed request fails with INVALID_ARGUMENT naming every bad field', async () => {
  const error = await rejection(sh.executions.createExecution({ namespace: 'Not A Namespace!', flowId: '' }));
  assert.equal(error.code, Code.InvalidArgument);
  assert.equal(error.reason, 'INVALID_ARGUMENT');
  const fields = error.fieldViolations.map((v) => v.field).sort();
  assert.deepEqual(fields, ['flow_id', 'namespace']);
});

test('an unknown field or enum value is refused before sending, naming it (never sent as unset)', async () => {
  const { execution } = await sh.executions.createExecution({ namespace: 'node.test', flowId: uniqueFlow('enum') });
  const { taskRun } = await sh.executions.createTaskRun({ executionId: execution.id, taskId: 't' });
  for (const state of ['STATE_SUCCESS', 'SUCCESS']) {
    const error = await rejection(sh.executions.transitionTaskRun({ taskRunId: taskRun.id, state }));
    assert.ok(error instanceof StatehouseError);
    assert.equal(error.code, Code.InvalidArgument);
    assert.equal(error.reason, 'MALFORMED_REQUEST');
    assert.deepEqual(
      error.fieldViolations.map((v) => v.field),
      ['state'],
    );
    assert.match(error.message, new RegExp(`state: "${state}" is not a value of State: use State.SUCCESS \\(4\\)`));
  }
  // A field of the old client (snake_case), or misspelled: named, with the field meant.
  const snake = await rejection(sh.executions.transitionTaskRun({ task_run_id: taskRun.id, state: State.RUNNING }));
  assert.match(snake.message, /task_run_id: is not a field of TransitionTaskRunRequest: did you mean taskRunId\?/);
  // A filter is never widened: an unknown state is refused, in a list and in a stream's filter.
  const filter = await rejection(sh.executions.listExecutions({ states: [State.RUNNING, 99] }));
  assert.deepEqual(
    filter.fieldViolations.map((v) => v.field),
    ['states[1]'],
  );
  assert.throws(
    () => sh.events.subscribe({ filter: { states: [99] } }),
    (e) => e instanceof StatehouseError && e.code === Code.InvalidArgument && /filter\.states\[0\]/.test(e.message),
  );
  // Inside a batch's items too; and nothing moved.
  const batch = await rejection(
    sh.executions.transitionTaskRuns({ requests: [{ taskRunId: taskRun.id, state: 'RUNNING' }] }),
  );
  assert.deepEqual(
    batch.fieldViolations.map((v) => v.field),
    ['requests[0].state'],
  );
  const { taskRun: still } = await sh.executions.getTaskRun({ taskRunId: taskRun.id });
  assert.equal(still.state, State.CREATED);
  // What the client receives can be sent back (oneofs, Struct values).
  const { taskRun: withPolicy } = await sh.executions.createTaskRun({
    executionId: execution.id,
    taskId: 'retried',
    retryPolicy: { maxAttempts: 2, interval: { case: 'constant', value: { interval: { seconds: 1n } } } },
  });
  const again = await sh.executions.createTaskRun({
    executionId: execution.id,
    taskId: 'copy',
    retryPolicy: withPolicy.retryPolicy,
  });
  assert.equal(again.taskRun.retryPolicy.maxAttempts, 2);
});

test('a stream error is a StatehouseError with its details', async () => {
  const error = await rejection(
    (async () => {
      for await (const _ of sh.events.followExecution({ executionId: randomUUID() })) {
        assert.fail('FollowExecution of an unknown id sent a snapshot');
      }
    })(),
  );
  assert.ok(error instanceof StatehouseError, String(error));
  assert.equal(error.code, Code.NotFound);
  assert.equal(error.reason, 'EXECUTION_NOT_FOUND');
});

test('a process that breaks out of a subscription and closes the client exits', { timeout: 10_000 }, async () => {
  // The child connects as this process does (STATEHOUSE_TOKEN, STATEHOUSE_TLS_CA).
  const { code, output } = await breakAndCloseInChild(TARGET);
  assert.equal(code, 0, output);
  assert.match(output, /received heartbeat\nclosed\n/);
});

// Each child below leaves a stream in one way and must then exit by itself
// (bounded: killed after 5 s), which it cannot while the stream is open. The
// first three never call close(), so only the cancellation on leaving the
// loop lets them exit. The child connects as this process does.
const CHILD = { timeout: 10_000 };

/** Asserts the child exited with 0 after printing `expected` (a regular expression). */
async function assertChildExits(body, expected) {
  const { code, output } = await runInChild(TARGET, body);
  assert.equal(code, 0, output);
  assert.match(output, expected);
}

test('break out of for await cancels the stream: the process exits without close()', CHILD, async () => {
  await assertChildExits(
    `
      for await (const message of sh.events.subscribe(HEARTBEATS)) {
        console.log('received', message.payload.case);
        break;
      }
  `,
    /received heartbeat\ndone\n/,
  );
});

test('return from a function inside for await cancels the stream: the process exits', CHILD, async () => {
  await assertChildExits(
    `
      async function firstPayload() {
        for await (const message of sh.events.subscribe(HEARTBEATS)) {
          return message.payload.case;
        }
      }
      console.log('returned', await firstPayload());
  `,
    /returned heartbeat\ndone\n/,
  );
});

test('an error thrown in the body of for await cancels the stream: the process exits', CHILD, async () => {
  await assertChildExits(
    `
      try {
        for await (const message of sh.events.subscribe(HEARTBEATS)) {
          throw new Error('thrown after ' + message.payload.case);
        }
      } catch (error) {
        console.log('caught', error.message);
      }
  `,
    /caught thrown after heartbeat\ndone\n/,
  );
});

test('a followExecution left by break is cancelled too: the process exits', CHILD, async () => {
  await assertChildExits(
    `
      const { execution } = await sh.executions.createExecution({ namespace: 'node.test', flowId: 'follow-break' });
      for await (const message of sh.events.followExecution({ executionId: execution.id })) {
        console.log('received', message.execution ? 'snapshot' : 'other');
        break;
      }
  `,
    /received snapshot\ndone\n/,
  );
});

test('close() cancels a stream a for await loop waits on: the loop fails with CANCELLED, the process exits', CHILD, async () => {
  await assertChildExits(
    `
      let closing = false;
      try {
        for await (const message of sh.events.subscribe(HEARTBEATS)) {
          // Once the stream is open on the server (a first heartbeat), close
          // the client from elsewhere while the loop waits for the next one.
          if (!closing) setImmediate(() => sh.close());
          closing = true;
        }
        console.log('ended without an error');
      } catch (error) {
        console.log('failed', error instanceof StatehouseError, error.codeName);
      }
  `,
    /failed true CANCELLED\ndone\n/,
  );
});

test('close() cancels every open stream, even one nobody reads', CHILD, async () => {
  await assertChildExits(
    `
      const streams = [sh.events.subscribe(HEARTBEATS), sh.events.subscribe({ fromLatest: true })];
      await streams[0].ready();
      sh.close();
      while (!streams.every((s) => s.done)) await new Promise((r) => setTimeout(r, 10));
      console.log('closed', streams.map((s) => s.done).join(','));
  `,
    /closed true,true\ndone\n/,
  );
});

test('transitionTaskRuns answers each item with its response or its StatehouseError, in order', async () => {
  const { execution } = await sh.executions.createExecution({ namespace: 'node.test', flowId: uniqueFlow('batch') });
  const { taskRun: a } = await sh.executions.createTaskRun({ executionId: execution.id, taskId: 'a' });
  const { taskRun: b } = await sh.executions.createTaskRun({ executionId: execution.id, taskId: 'b' });
  const requests = [
    { taskRunId: a.id, state: State.RUNNING, requestId: `a-${randomUUID()}` },
    { taskRunId: a.id, state: State.SUCCESS, outputs: { rows: 2 } },
    { taskRunId: b.id, state: State.SUCCESS },
    { taskRunId: 'no-such-run', state: State.RUNNING },
    { taskRunId: b.id, state: State.RUNNING, expectedRevision: 1n },
  ];
  const results = await sh.executions.transitionTaskRuns({ requests });
  assert.equal(results.length, requests.length);
  assert.equal(results[0].taskRun.state, State.RUNNING);
  assert.equal(results[1].taskRun.state, State.SUCCESS);
  assert.deepEqual(results[1].taskRun.outputs, { rows: 2 });
  const expected = [
    [2, 'FAILED_PRECONDITION', 'INVALID_TRANSITION'],
    [3, 'NOT_FOUND', 'TASK_RUN_NOT_FOUND'],
    [4, 'ABORTED', 'REVISION_MISMATCH'],
  ];
  for (const [index, codeName, reason] of expected) {
    const error = results[index];
    assert.ok(error instanceof StatehouseError, `item ${index}: ${error}`);
    assert.equal(error.codeName, codeName);
    assert.equal(error.reason, reason);
    assert.equal(error.domain, 'statehouse');
  }
  assert.equal(results[2].metadata.current_state, 'CREATED');

  // A bad item fails alone with its field violations; too many items fail the call.
  const [bad, ok] = await sh.executions.transitionTaskRuns({
    requests: [
      { taskRunId: b.id, state: State.RUNNING, reason: 'x'.repeat(3000) },
      { taskRunId: b.id, state: State.RUNNING },
    ],
  });
  assert.equal(bad.codeName, 'INVALID_ARGUMENT');
  assert.deepEqual(
    bad.fieldViolations.map((v) => v.field),
    ['reason'],
  );
  assert.equal(ok.taskRun.state, State.RUNNING);
  const tooMany = Array.from({ length: 1001 }, () => ({ taskRunId: 'x', state: State.RUNNING }));
  await assert.rejects(sh.executions.transitionTaskRuns({ requests: tooMany }), (error) => {
    assert.ok(error instanceof StatehouseError);
    assert.equal(error.codeName, 'INVALID_ARGUMENT');
    assert.deepEqual(
      error.fieldViolations.map((v) => v.field),
      ['requests'],
    );
    return true;
  });
});

test('a fromLatest stream knows where it starts from its headers, before any event, and resumes from there', async () => {
  const { headSequence: head } = await sh.admin.getServerInfo({});
  const flowId = uniqueFlow('start');
  for (let i = 0; i < 3; i += 1) {
    await sh.executions.createExecution({ namespace: 'node.test', flowId });
  }

  // Accepted: the headers say where it starts (every event written before it), nothing received yet.
  const stream = sh.events.subscribe({ fromLatest: true });
  assert.equal(stream.startSequence, null);
  assert.equal(stream.lastSequence, null);
  await stream.ready();
  const start = head + 3n;
  assert.equal(stream.startSequence, start);
  assert.equal(stream.lastSequence, start);
  assert.equal(stream.messagesReceived, 0);
  assert.equal(stream.eventsReceived, 0);
  // The stream is lost before any event; meanwhile more is written.
  stream.cancel();
  assert.equal(stream.lastSequence, start);
  const after = [];
  for (let i = 0; i < 2; i += 1) {
    const { execution } = await sh.executions.createExecution({ namespace: 'node.test', flowId });
    after.push(execution.id);
  }

  // Subscribing again after its last sequence: exactly the events written since.
  const resumed = sh.events.subscribe({ afterSequence: stream.lastSequence });
  const events = await collectEvents(resumed, 2);
  assert.equal(resumed.startSequence, start);
  assert.deepEqual(
    events.map((e) => [e.sequence, e.executionId, e.state]),
    [
      [start + 1n, after[0], State.CREATED],
      [start + 2n, after[1], State.CREATED],
    ],
  );
  assert.equal(resumed.duplicatesDropped, 0);
  assert.equal(resumed.lastSequence, events[1].sequence);
});

test('claims ready task runs with a lease, heartbeats them, and a heartbeat on an ended attempt is refused', async () => {
  const flowId = uniqueFlow('claims');
  const { execution } = await sh.executions.createExecution({ namespace: 'node.test', flowId });
  const ids = [];
  for (const taskId of ['extract', 'load']) {
    ids.push((await sh.executions.createTaskRun({ executionId: execution.id, taskId })).taskRun.id);
  }

  const claimed = await sh.executions.claimTaskRuns({
    filter: { namespace: 'node.test', flowId },
    maxTaskRuns: 5,
    workerId: 'node-worker-7',
    leaseDuration: { seconds: 30n },
  });
  assert.equal(claimed.taskRuns.length, 2);
  // Oldest ready first: in the order they were created.
  assert.deepEqual(
    claimed.taskRuns.map((item) => item.taskRun.id),
    ids,
  );
  for (const item of claimed.taskRuns) {
    assert.equal(item.taskRun.state, State.RUNNING);
    assert.equal(item.attempt, 1);
    assert.equal(item.execution.id, execution.id);
    const attempt = item.taskRun.attempts.at(-1);
    assert.equal(attempt.workerId, 'node-worker-7');
    assert.equal(attempt.leaseDuration.seconds, 30n);
    assert.ok(item.leaseExpireTime.seconds * 1000n > BigInt(Date.now()));
  }

  const beats = await sh.executions.heartbeat({
    attempts: claimed.taskRuns.map((item) => ({ taskRunId: item.taskRun.id, attempt: item.attempt })),
  });
  assert.deepEqual(
    beats.results.map((result) => [result.taskRunId, result.attempt, result.taskRunState, result.error]),
    ids.map((id) => [id, 1, State.RUNNING, undefined]),
  );
  for (const result of beats.results) assert.ok(result.leaseExpireTime);

  // The first ends; a heartbeat for it is refused, the other's goes on.
  await sh.executions.transitionTaskRun({ taskRunId: ids[0], state: State.SUCCESS, attempt: 1 });
  const after = await sh.executions.heartbeat({ attempts: ids.map((id) => ({ taskRunId: id, attempt: 1 })) });
  const [ended, held] = after.results;
  assert.equal(ended.leaseExpireTime, undefined);
  assert.equal(ended.taskRunState, State.SUCCESS);
  const refused = StatehouseError.fromItemStatus(ended.error);
  assert.equal(refused.codeName, 'FAILED_PRECONDITION');
  assert.equal(refused.reason, 'ATTEMPT_NOT_OPEN');
  assert.equal(held.error, undefined);
  assert.equal(held.taskRunState, State.RUNNING);

  // Nothing left to claim.
  const none = await sh.executions.claimTaskRuns({ filter: { flowId }, workerId: 'node-worker-7' });
  assert.deepEqual(none.taskRuns, []);
});

test("a claim's long poll adds its wait to the call's deadline", async () => {
  // A 300 ms timeout, a 1 s wait with nothing to claim: the server answers at
  // the end of the wait, empty, before the call's deadline.
  const short = connect(TARGET, { timeoutMs: 300 });
  try {
    const begun = Date.now();
    const { taskRuns } = await short.executions.claimTaskRuns({
      filter: { namespace: 'node.test', flowId: uniqueFlow('nothing') },
      workerId: 'node-worker-8',
      wait: { seconds: 1n },
    });
    assert.deepEqual(taskRuns, []);
    assert.ok(Date.now() - begun >= 900, `answered after ${Date.now() - begun} ms`);
  } finally {
    short.close();
  }
});
