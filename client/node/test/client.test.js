'use strict';
// The Node client against a real Statehouse: STATEHOUSE_TARGET=host:port.
// Run by tests/integration/test_node_client.py (make test), which starts the
// Python server; by hand: STATEHOUSE_TARGET=127.0.0.1:50051 npm test --prefix client/node
// (STATEHOUSE_TOKEN and STATEHOUSE_TLS_CA apply, for a server with --auth or TLS).

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { randomUUID } = require('node:crypto');
const { connect, StatehouseError, toStruct, fromStruct, grpc } = require('../src');
const { breakAndCloseInChild, runInChild } = require('./support');

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

/** Reads `count` events from a subscription, with a deadline, then cancels it. */
function collectEvents(call, count) {
  return new Promise((resolve, reject) => {
    const events = [];
    const timer = setTimeout(() => {
      call.cancel();
      reject(new Error(`received ${events.length} of ${count} events before the deadline`));
    }, DEADLINE_MS);
    call.on('data', (message) => {
      if (message.payload !== 'event') return;
      events.push(message.event);
      if (events.length === count) {
        clearTimeout(timer);
        call.cancel();
        resolve(events);
      }
    });
    call.on('error', (error) => {
      clearTimeout(timer);
      if (error.code !== grpc.status.CANCELLED) reject(error);
    });
  });
}

test('creates an execution and task runs, drives the lifecycle, receives the events in order', async () => {
  const flowId = uniqueFlow('etl');
  const requestId = randomUUID();
  const created = await sh.executions.createExecution({
    namespace: 'node.test',
    flow_id: flowId,
    labels: { team: 'data' },
    inputs: toStruct({ source: 's3://bucket/input', partitions: [1, 2], dry_run: false }),
    request_id: requestId,
  });
  const execution = created.execution;
  assert.equal(execution.state, 'STATE_CREATED');
  assert.equal(execution.revision, '1');
  assert.deepEqual(execution.labels, { team: 'data' });
  assert.deepEqual(fromStruct(execution.inputs), {
    source: 's3://bucket/input',
    partitions: [1, 2],
    dry_run: false,
  });

  // The same request_id with the same content returns the first result.
  const again = await sh.executions.createExecution({
    namespace: 'node.test',
    flow_id: flowId,
    labels: { team: 'data' },
    inputs: toStruct({ source: 's3://bucket/input', partitions: [1, 2], dry_run: false }),
    request_id: requestId,
  });
  assert.equal(again.execution.id, execution.id);

  // Replay from the start of the log, filtered to this execution, then live.
  const subscription = sh.events.subscribe({
    filter: { execution_ids: [execution.id] },
    after_sequence: '0',
  });
  const received = collectEvents(subscription, 9);

  const a = (await sh.executions.createTaskRun({ execution_id: execution.id, task_id: 'extract' }))
    .task_run;
  const b = (await sh.executions.createTaskRun({ execution_id: execution.id, task_id: 'load' }))
    .task_run;
  assert.equal(a.state, 'STATE_CREATED');

  const started = await sh.executions.transitionTaskRun({
    task_run_id: a.id,
    state: 'STATE_RUNNING',
    worker_id: 'node-worker-1',
  });
  assert.equal(started.task_run.state, 'STATE_RUNNING');
  assert.equal(started.execution_state, 'STATE_RUNNING');
  assert.equal(started.task_run.attempts.length, 1);
  assert.equal(started.task_run.attempts[0].number, 1);
  assert.equal(started.task_run.attempts[0].worker_id, 'node-worker-1');

  const done = await sh.executions.transitionTaskRun({
    task_run_id: a.id,
    state: 'STATE_SUCCESS',
    outputs: toStruct({ rows: 42, files: { written: ['a.parquet'] } }),
    expected_revision: started.execution_revision,
  });
  assert.deepEqual(fromStruct(done.task_run.outputs), { rows: 42, files: { written: ['a.parquet'] } });
  assert.equal(done.task_run.attempts[0].state, 'STATE_SUCCESS');

  await sh.executions.transitionTaskRun({ task_run_id: b.id, state: 'STATE_RUNNING' });
  await sh.executions.transitionTaskRun({ task_run_id: b.id, state: 'STATE_FAILED', reason: 'disk full' });
  const completed = await sh.executions.completeExecution({
    execution_id: execution.id,
    reason: 'load failed',
  });
  assert.equal(completed.execution.state, 'STATE_FAILED'); // derived from the task runs

  const events = await received;
  const names = { '': 'execution', [a.id]: 'extract', [b.id]: 'load' };
  assert.deepEqual(
    events.map((e) => [names[e.task_run_id], e.previous_state, e.state]),
    [
      ['execution', 'STATE_UNSPECIFIED', 'STATE_CREATED'],
      ['extract', 'STATE_UNSPECIFIED', 'STATE_CREATED'],
      ['load', 'STATE_UNSPECIFIED', 'STATE_CREATED'],
      ['extract', 'STATE_CREATED', 'STATE_RUNNING'],
      ['execution', 'STATE_CREATED', 'STATE_RUNNING'],
      ['extract', 'STATE_RUNNING', 'STATE_SUCCESS'],
      ['load', 'STATE_CREATED', 'STATE_RUNNING'],
      ['load', 'STATE_RUNNING', 'STATE_FAILED'],
      ['execution', 'STATE_RUNNING', 'STATE_FAILED'],
    ],
  );
  const sequences = events.map((e) => BigInt(e.sequence));
  for (let i = 1; i < sequences.length; i += 1) {
    assert.ok(sequences[i] > sequences[i - 1], `sequence ${sequences[i]} after ${sequences[i - 1]}`);
  }
  const revisions = events.map((e) => BigInt(e.execution_revision));
  for (let i = 1; i < revisions.length; i += 1) {
    assert.ok(revisions[i] >= revisions[i - 1], 'revisions never decrease');
  }
  assert.ok(events.every((e) => e.execution_id === execution.id && e.flow_id === flowId));
  assert.ok(events.every((e) => typeof e.actor === 'string'), 'every event has an actor');
  assert.equal(events[7].reason, 'disk full');
  assert.equal(events[8].reason, 'load failed');

  // Resuming after the fifth event returns exactly the last four.
  const resumed = await collectEvents(
    sh.events.subscribe({
      filter: { execution_ids: [execution.id] },
      after_sequence: events[4].sequence,
    }),
    4,
  );
  assert.deepEqual(
    resumed.map((e) => e.sequence),
    events.slice(5).map((e) => e.sequence),
  );

  // The stored execution agrees with the stream.
  const { execution: stored } = await sh.executions.getExecution({ execution_id: execution.id });
  assert.equal(stored.state, 'STATE_FAILED');
  assert.equal(stored.revision, events[8].execution_revision);
  assert.deepEqual(
    stored.history.map((h) => h.state),
    ['STATE_CREATED', 'STATE_RUNNING', 'STATE_FAILED'],
  );
  assert.deepEqual(
    stored.task_runs.map((t) => [t.task_id, t.state]),
    [
      ['extract', 'STATE_SUCCESS'],
      ['load', 'STATE_FAILED'],
    ],
  );

  // FollowExecution on a terminal execution sends one snapshot and ends.
  const snapshots = [];
  for await (const message of sh.events.followExecution({ execution_id: execution.id })) {
    snapshots.push(message.execution);
  }
  assert.equal(snapshots.length, 1);
  assert.equal(snapshots[0].state, 'STATE_FAILED');

  const listed = await sh.executions.listExecutions({ namespace: 'node.test', flow_id: flowId });
  assert.deepEqual(
    listed.executions.map((e) => e.id),
    [execution.id],
  );
});

test('a subscription behind the log gets several events per message, handed over one by one', async () => {
  const flowId = uniqueFlow('batches');
  const ids = [];
  for (let i = 0; i < 300; i += 1) {
    const { execution } = await sh.executions.createExecution({ namespace: 'node.test', flow_id: flowId });
    ids.push(execution.id);
  }
  const filter = { namespace: 'node.test', flow_id: flowId };

  // The replay from the start: every event once, in order, several to a message.
  const replay = sh.events.subscribe({ filter, after_sequence: '0' });
  const events = await collectEvents(replay, 300);
  assert.deepEqual(
    events.map((e) => e.execution_id),
    ids,
  );
  const sequences = events.map((e) => BigInt(e.sequence));
  for (let i = 1; i < sequences.length; i += 1) {
    assert.ok(sequences[i] > sequences[i - 1], `sequence ${sequences[i]} after ${sequences[i - 1]}`);
  }
  assert.equal(replay.eventsReceived, 300);
  assert.equal(replay.duplicatesDropped, 0);
  assert.ok(replay.messagesReceived < 300, `${replay.messagesReceived} messages for 300 events`);

  // Resuming after an event in the middle of a message: exactly the events after it.
  const resumed = sh.events.subscribe({ filter, after_sequence: events[149].sequence });
  const rest = await collectEvents(resumed, 150);
  assert.deepEqual(
    rest.map((e) => e.sequence),
    events.slice(150).map((e) => e.sequence),
  );
  assert.ok(resumed.messagesReceived < 150, `${resumed.messagesReceived} messages for 150 events`);

  // Leaving the loop in the middle of a message cancels the stream: no more events.
  const left = sh.events.subscribe({ filter, after_sequence: '0' });
  const seen = [];
  for await (const message of left) {
    seen.push(message.event.sequence);
    if (seen.length === 10) break;
  }
  assert.deepEqual(
    seen,
    events.slice(0, 10).map((e) => e.sequence),
  );
  assert.ok(left.destroyed);
  assert.ok(left.eventsReceived > 10, `${left.eventsReceived} events received: the break was not mid-message`);

  // max_events_per_message 0 (or 1): one event per message, as servers before it.
  const single = sh.events.subscribe({ filter, after_sequence: events[289].sequence, max_events_per_message: 0 });
  assert.equal((await collectEvents(single, 10)).length, 10);
  assert.equal(single.messagesReceived, 10);
});

test('an illegal transition fails with FAILED_PRECONDITION and an ErrorInfo INVALID_TRANSITION', async () => {
  const { execution } = await sh.executions.createExecution({
    namespace: 'node.test',
    flow_id: uniqueFlow('errors'),
  });
  const { task_run: taskRun } = await sh.executions.createTaskRun({
    execution_id: execution.id,
    task_id: 'extract',
  });
  const error = await sh.executions
    .transitionTaskRun({ task_run_id: taskRun.id, state: 'STATE_SUCCESS' })
    .then(
      () => assert.fail('CREATED -> SUCCESS was accepted'),
      (e) => e,
    );
  assert.ok(error instanceof StatehouseError, String(error));
  assert.equal(error.code, grpc.status.FAILED_PRECONDITION);
  assert.equal(error.codeName, 'FAILED_PRECONDITION');
  assert.equal(error.reason, 'INVALID_TRANSITION');
  assert.equal(error.domain, 'statehouse');
  assert.deepEqual(error.metadata, { current_state: 'CREATED', requested_state: 'SUCCESS' });
  assert.ok(error.details.some((d) => d.type === 'google.rpc.ErrorInfo'));
  assert.match(error.message, /CREATED/);
});

test('a malformed request fails with INVALID_ARGUMENT naming every bad field', async () => {
  const error = await sh.executions
    .createExecution({ namespace: 'Not A Namespace!', flow_id: '' })
    .then(
      () => assert.fail('a malformed request was accepted'),
      (e) => e,
    );
  assert.equal(error.code, grpc.status.INVALID_ARGUMENT);
  assert.equal(error.reason, 'INVALID_ARGUMENT');
  const fields = error.fieldViolations.map((v) => v.field).sort();
  assert.deepEqual(fields, ['flow_id', 'namespace']);
});

test('an unknown enum name or field is refused before sending, naming it (never sent as unset)', async () => {
  const { execution } = await sh.executions.createExecution({ namespace: 'node.test', flow_id: uniqueFlow('enum') });
  const { task_run: taskRun } = await sh.executions.createTaskRun({ execution_id: execution.id, task_id: 't' });
  const refusal = (promise) =>
    promise.then(
      () => assert.fail('the request was sent'),
      (e) => e,
    );
  for (const state of ['STATE_SUCESS', 'SUCCESS']) {
    const error = await refusal(sh.executions.transitionTaskRun({ task_run_id: taskRun.id, state }));
    assert.ok(error instanceof StatehouseError);
    assert.equal(error.code, grpc.status.INVALID_ARGUMENT);
    assert.equal(error.reason, 'MALFORMED_REQUEST');
    assert.deepEqual(
      error.fieldViolations.map((v) => v.field),
      ['state'],
    );
    assert.match(error.message, new RegExp(`state: "${state}" is not a known value of State; expected one of STATE_CREATED, STATE_RUNNING`));
  }
  // A misspelled (or camelCase) field: named, with the field meant.
  const misspelled = await refusal(sh.executions.transitionTaskRun({ taskRunId: taskRun.id, state: 'STATE_RUNNING' }));
  assert.equal(misspelled.code, grpc.status.INVALID_ARGUMENT);
  assert.match(misspelled.message, /taskRunId: is not a field of TransitionTaskRunRequest: did you mean task_run_id\?/);
  // A filter is never widened: an unknown state is refused, in a list and in a stream's filter.
  const filter = await refusal(sh.executions.listExecutions({ states: ['STATE_RUNNING', 'STATE_BOGUS'] }));
  assert.deepEqual(
    filter.fieldViolations.map((v) => v.field),
    ['states[1]'],
  );
  assert.throws(
    () => sh.events.subscribe({ filter: { states: ['STATE_BOGUS'] } }),
    (e) => e instanceof StatehouseError && e.code === grpc.status.INVALID_ARGUMENT && /filter\.states\[0\]/.test(e.message),
  );
  // Inside a batch's items too; and nothing moved.
  const batch = await refusal(
    sh.executions.transitionTaskRuns({ requests: [{ task_run_id: taskRun.id, state: 'RUNNING' }] }),
  );
  assert.deepEqual(
    batch.fieldViolations.map((v) => v.field),
    ['requests[0].state'],
  );
  const { task_run: still } = await sh.executions.getTaskRun({ task_run_id: taskRun.id });
  assert.equal(still.state, 'STATE_CREATED');
  // A number the enum lacks goes to the server, which refuses it by name.
  const number = await refusal(sh.executions.listExecutions({ states: [99] }));
  assert.equal(number.code, grpc.status.INVALID_ARGUMENT);
  assert.match(number.message, /states\[0\]: 99 is not a known value of State/);
  // What the client receives can be sent back (oneof names, Struct values).
  const { task_run: withPolicy } = await sh.executions.createTaskRun({
    execution_id: execution.id,
    task_id: 'retried',
    retry_policy: { max_attempts: 2, constant: { interval: { seconds: 1 } } },
  });
  const again = await sh.executions.createTaskRun({ execution_id: execution.id, task_id: 'copy', retry_policy: withPolicy.retry_policy });
  assert.equal(again.task_run.retry_policy.max_attempts, 2);
});

test('a stream error is a StatehouseError with its details', async () => {
  const call = sh.events.followExecution({ execution_id: randomUUID() });
  const error = await (async () => {
    for await (const _ of call) {
      assert.fail('FollowExecution of an unknown id sent a snapshot');
    }
    assert.fail('FollowExecution of an unknown id ended without an error');
  })().then(
    () => null,
    (e) => e,
  );
  assert.ok(error instanceof StatehouseError, String(error));
  assert.equal(error.code, grpc.status.NOT_FOUND);
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
        console.log('received', message.payload);
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
          return message.payload;
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
          throw new Error('thrown after ' + message.payload);
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
      const { execution } = await sh.executions.createExecution({ namespace: 'node.test', flow_id: 'follow-break' });
      for await (const message of sh.events.followExecution({ execution_id: execution.id })) {
        console.log('received', message.execution ? 'snapshot' : Object.keys(message).join(','));
        break;
      }
  `,
    /received .+\ndone\n/,
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

test('close() cancels every open stream, even one nobody reads or listens to', CHILD, async () => {
  await assertChildExits(
    `
      const streams = [sh.events.subscribe(HEARTBEATS), sh.events.subscribe({ from_latest: true })];
      await new Promise((resolve) => streams[0].once('metadata', resolve));
      sh.close();
      await new Promise((resolve) => streams[1].once('close', resolve));
      console.log('closed', streams.map((s) => s.destroyed).join(','));
  `,
    /closed true,true\ndone\n/,
  );
});

test('transitionTaskRuns answers each item with its response or its StatehouseError, in order', async () => {
  const { execution } = await sh.executions.createExecution({ namespace: 'node.test', flow_id: uniqueFlow('batch') });
  const { task_run: a } = await sh.executions.createTaskRun({ execution_id: execution.id, task_id: 'a' });
  const { task_run: b } = await sh.executions.createTaskRun({ execution_id: execution.id, task_id: 'b' });
  const requests = [
    { task_run_id: a.id, state: 'STATE_RUNNING', request_id: `a-${randomUUID()}` },
    { task_run_id: a.id, state: 'STATE_SUCCESS', outputs: toStruct({ rows: 2 }) },
    { task_run_id: b.id, state: 'STATE_SUCCESS' },
    { task_run_id: 'no-such-run', state: 'STATE_RUNNING' },
    { task_run_id: b.id, state: 'STATE_RUNNING', expected_revision: '1' },
  ];
  const results = await sh.executions.transitionTaskRuns({ requests });
  assert.equal(results.length, requests.length);
  assert.equal(results[0].task_run.state, 'STATE_RUNNING');
  assert.equal(results[1].task_run.state, 'STATE_SUCCESS');
  assert.deepEqual(fromStruct(results[1].task_run.outputs), { rows: 2 });
  const expected = [
    [2, 'FAILED_PRECONDITION', 'INVALID_TRANSITION'],
    [3, 'NOT_FOUND', 'TASK_RUN_NOT_FOUND'],
    [4, 'ABORTED', 'REVISION_MISMATCH'],
  ];
  for (const [index, codeName, reason] of expected) {
    const error = results[index];
    assert.ok(error instanceof StatehouseError, `item ${index}: ${JSON.stringify(error)}`);
    assert.equal(error.codeName, codeName);
    assert.equal(error.reason, reason);
    assert.equal(error.domain, 'statehouse');
  }
  assert.equal(results[2].metadata.current_state, 'CREATED');

  // A bad item fails alone with its field violations; too many items fail the call.
  const [bad, ok] = await sh.executions.transitionTaskRuns({
    requests: [
      { task_run_id: b.id, state: 'STATE_RUNNING', reason: 'x'.repeat(3000) },
      { task_run_id: b.id, state: 'STATE_RUNNING' },
    ],
  });
  assert.equal(bad.codeName, 'INVALID_ARGUMENT');
  assert.deepEqual(bad.fieldViolations.map((v) => v.field), ['reason']);
  assert.equal(ok.task_run.state, 'STATE_RUNNING');
  const tooMany = Array.from({ length: 1001 }, () => ({ task_run_id: 'x', state: 'STATE_RUNNING' }));
  await assert.rejects(sh.executions.transitionTaskRuns({ requests: tooMany }), (error) => {
    assert.ok(error instanceof StatehouseError);
    assert.equal(error.codeName, 'INVALID_ARGUMENT');
    assert.deepEqual(error.fieldViolations.map((v) => v.field), ['requests']);
    return true;
  });
});

test('a from_latest stream knows where it starts from its headers, before any event, and resumes from there', async () => {
  const { head_sequence: head } = await sh.admin.getServerInfo({});
  const flowId = uniqueFlow('start');
  for (let i = 0; i < 3; i += 1) {
    await sh.executions.createExecution({ namespace: 'node.test', flow_id: flowId });
  }

  // Accepted: the headers say where it starts (every event written before it), nothing received yet.
  const stream = sh.events.subscribe({ from_latest: true });
  assert.equal(stream.startSequence, null);
  assert.equal(stream.lastSequence, null);
  await new Promise((resolve, reject) => {
    stream.once('metadata', resolve);
    stream.once('error', reject);
  });
  const start = String(BigInt(head) + 3n);
  assert.equal(stream.startSequence, start);
  assert.equal(stream.lastSequence, start);
  assert.equal(stream.messagesReceived, 0);
  assert.equal(stream.eventsReceived, 0);
  // The stream is lost before any event; meanwhile more is written.
  stream.destroy();
  assert.equal(stream.lastSequence, start);
  const after = [];
  for (let i = 0; i < 2; i += 1) {
    const { execution } = await sh.executions.createExecution({ namespace: 'node.test', flow_id: flowId });
    after.push(execution.id);
  }

  // Subscribing again after its last sequence: exactly the events written since.
  const resumed = sh.events.subscribe({ after_sequence: stream.lastSequence });
  const events = await collectEvents(resumed, 2);
  assert.equal(resumed.startSequence, start);
  assert.deepEqual(
    events.map((e) => [e.sequence, e.execution_id, e.state]),
    [
      [String(BigInt(start) + 1n), after[0], 'STATE_CREATED'],
      [String(BigInt(start) + 2n), after[1], 'STATE_CREATED'],
    ],
  );
  assert.equal(resumed.duplicatesDropped, 0);
  assert.equal(resumed.lastSequence, events[1].sequence);
});

test('claims ready task runs with a lease, heartbeats them, and a heartbeat on an ended attempt is refused', async () => {
  const flowId = uniqueFlow('claims');
  const { execution } = await sh.executions.createExecution({ namespace: 'node.test', flow_id: flowId });
  const ids = [];
  for (const taskId of ['extract', 'load']) {
    ids.push((await sh.executions.createTaskRun({ execution_id: execution.id, task_id: taskId })).task_run.id);
  }

  const claimed = await sh.executions.claimTaskRuns({
    filter: { namespace: 'node.test', flow_id: flowId },
    max_task_runs: 5,
    worker_id: 'node-worker-7',
    lease_duration: { seconds: 30 },
  });
  assert.equal(claimed.task_runs.length, 2);
  // Oldest ready first: in the order they were created.
  assert.deepEqual(
    claimed.task_runs.map((item) => item.task_run.id),
    ids,
  );
  for (const item of claimed.task_runs) {
    assert.equal(item.task_run.state, 'STATE_RUNNING');
    assert.equal(item.attempt, 1);
    assert.equal(item.execution.id, execution.id);
    const attempt = item.task_run.attempts.at(-1);
    assert.equal(attempt.worker_id, 'node-worker-7');
    assert.equal(attempt.lease_duration.seconds, '30');
    assert.ok(BigInt(item.lease_expire_time.seconds) * 1000n > BigInt(Date.now()));
  }

  const beats = await sh.executions.heartbeat({
    attempts: claimed.task_runs.map((item) => ({ task_run_id: item.task_run.id, attempt: item.attempt })),
  });
  assert.deepEqual(
    beats.results.map((result) => [result.task_run_id, result.attempt, result.task_run_state, result.error]),
    ids.map((id) => [id, 1, 'STATE_RUNNING', null]),
  );
  for (const result of beats.results) assert.ok(result.lease_expire_time);

  // The first ends; a heartbeat for it is refused, the other's goes on.
  await sh.executions.transitionTaskRun({ task_run_id: ids[0], state: 'STATE_SUCCESS', attempt: 1 });
  const after = await sh.executions.heartbeat({
    attempts: ids.map((id) => ({ task_run_id: id, attempt: 1 })),
  });
  const [ended, held] = after.results;
  assert.equal(ended.lease_expire_time, null);
  assert.equal(ended.task_run_state, 'STATE_SUCCESS');
  const refused = StatehouseError.fromItemStatus(ended.error);
  assert.equal(refused.codeName, 'FAILED_PRECONDITION');
  assert.equal(refused.reason, 'ATTEMPT_NOT_OPEN');
  assert.equal(held.error, null);
  assert.equal(held.task_run_state, 'STATE_RUNNING');

  // Nothing left to claim.
  const none = await sh.executions.claimTaskRuns({ filter: { flow_id: flowId }, worker_id: 'node-worker-7' });
  assert.deepEqual(none.task_runs, []);
});

test("a claim's long poll adds its wait to the call's deadline", async () => {
  // A 300 ms timeout, a 1 s wait with nothing to claim: the server answers at
  // the end of the wait, empty, before the call's deadline.
  const short = connect(TARGET, { timeoutMs: 300 });
  try {
    const begun = Date.now();
    const { task_runs } = await short.executions.claimTaskRuns({
      filter: { namespace: 'node.test', flow_id: uniqueFlow('nothing') },
      worker_id: 'node-worker-8',
      wait: { seconds: 1 },
    });
    assert.deepEqual(task_runs, []);
    assert.ok(Date.now() - begun >= 900, `answered after ${Date.now() - begun} ms`);
  } finally {
    short.close();
  }
});
