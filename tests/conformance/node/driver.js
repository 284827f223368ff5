// The conformance driver of the Node.js client (client/node, grpc-js).
//
// Usage, from the repository's root, with the suite's variables set
// (tests/conformance/README.md): node tests/conformance/node/driver.js SCENARIO...
// It prints a JSON line per scenario: {"scenario", "status": "ran", "observed"}
// or {"scenario", "status": "fail" | "not-supported", "why"}.
'use strict';

const crypto = require('node:crypto');
const path = require('node:path');
const readline = require('node:readline');
const { connect, StatehouseError } = require(path.join(__dirname, '..', '..', '..', 'client', 'node'));

/** How long the driver waits for any one event (a restart included), in ms. */
const WAIT_MS = 30000;
const env = {
  target: process.env.STATEHOUSE_CONFORMANCE_TARGET,
  authTarget: process.env.STATEHOUSE_CONFORMANCE_AUTH_TARGET,
  readerToken: process.env.STATEHOUSE_CONFORMANCE_READER_TOKEN,
  run: process.env.STATEHOUSE_CONFORMANCE_RUN || 'conformance',
};
const namespace = (scenario) => `${env.run}.${scenario}`.replaceAll('_', '-');
const stdin = readline.createInterface({ input: process.stdin });
const stdinLines = stdin[Symbol.asyncIterator]();

function emit(line) {
  process.stdout.write(JSON.stringify(line) + '\n');
}

/** Asks the suite to restart the server; the ids of what it then created. */
async function askRestart(ns) {
  emit({ restart: ns });
  const { value, done } = await stdinLines.next();
  if (done) throw new Error('the suite closed stdin instead of answering the restart');
  return value.split(/\s+/).filter(Boolean);
}

/** Runs `fn`, which must be refused; the StatehouseError. */
async function refused(fn, what) {
  try {
    await fn();
  } catch (error) {
    if (error instanceof StatehouseError) return error;
    throw error;
  }
  throw new Error(`${what} was accepted`);
}

const refusal = (error, prefix = '') => ({
  [`${prefix}code`]: error.codeName,
  [`${prefix}reason`]: error.reason,
});

async function withClient(fn, target = env.target, token = '') {
  const sh = connect(target, { token, tls: false });
  try {
    return await fn(sh.executions, sh);
  } finally {
    sh.close();
  }
}

async function started(ex, scenario, ...tasks) {
  const { execution } = await ex.createExecution({ namespace: namespace(scenario), flow_id: 'etl' });
  const runs = [];
  for (const task_id of tasks) {
    runs.push((await ex.createTaskRun({ execution_id: execution.id, task_id })).task_run);
  }
  return [execution, ...runs];
}

const scenarios = {
  lifecycle: () =>
    withClient(async (ex) => {
      const [execution, run] = await started(ex, 'lifecycle', 'extract');
      const start = await ex.transitionTaskRun({ task_run_id: run.id, state: 'STATE_RUNNING' });
      const done = await ex.transitionTaskRun({ task_run_id: run.id, state: 'STATE_SUCCESS' });
      await ex.transitionExecution({ execution_id: execution.id, state: 'STATE_SUCCESS' });
      const final = (await ex.getExecution({ execution_id: execution.id })).execution;
      return {
        execution_created: execution.state,
        task_run_created: run.state,
        execution_after_task_run_started: start.execution_state,
        task_run_final: done.task_run.state,
        execution_final: final.state,
        execution_history: final.history.map((h) => h.state).join(' '),
      };
    }),

  illegal_move: () =>
    withClient(async (ex) => {
      const [, run] = await started(ex, 'illegal_move', 'extract');
      await ex.transitionTaskRun({ task_run_id: run.id, state: 'STATE_RUNNING' });
      const error = await refused(
        () => ex.transitionTaskRun({ task_run_id: run.id, state: 'STATE_CREATED' }),
        'the illegal move',
      );
      return {
        ...refusal(error),
        current_state: error.metadata.current_state,
        requested_state: error.metadata.requested_state,
      };
    }),

  request_id_retry: () =>
    withClient(async (ex) => {
      const ns = namespace('request_id_retry');
      const request = { namespace: ns, flow_id: 'etl', request_id: `conformance-${crypto.randomUUID()}` };
      const first = (await ex.createExecution(request)).execution;
      const again = (await ex.createExecution(request)).execution;
      const count = await ex.countExecutions({ namespace: ns });
      const error = await refused(
        () => ex.createExecution({ ...request, flow_id: 'other' }),
        'the reused request id',
      );
      return {
        same_execution: String(first.id === again.id),
        executions_created: String(count.total),
        ...refusal(error, 'reused_'),
      };
    }),

  revision_conflict: () =>
    withClient(async (ex) => {
      const [execution] = await started(ex, 'revision_conflict');
      const request = { execution_id: execution.id, expected_revision: execution.revision };
      const moved = await ex.transitionExecution({ ...request, state: 'STATE_RUNNING' });
      const error = await refused(
        () => ex.transitionExecution({ ...request, state: 'STATE_SUCCESS' }),
        'the stale expected_revision',
      );
      return {
        first_move: moved.execution.state,
        ...refusal(error),
        current_revision: error.metadata.current_revision,
        expected_revision: error.metadata.expected_revision,
      };
    }),

  pause_resume: () =>
    withClient(async (ex) => {
      const [execution, a, b] = await started(ex, 'pause_resume', 'a', 'b');
      await ex.transitionTaskRun({ task_run_id: a.id, state: 'STATE_RUNNING' });
      const paused = (await ex.pauseExecution({ execution_id: execution.id })).execution;
      const error = await refused(
        () => ex.transitionTaskRun({ task_run_id: b.id, state: 'STATE_RUNNING' }),
        'a start in a paused execution',
      );
      const resumed = (await ex.resumeExecution({ execution_id: execution.id })).execution;
      const start = await ex.transitionTaskRun({ task_run_id: b.id, state: 'STATE_RUNNING' });
      return {
        paused: paused.state,
        ...refusal(error, 'start_while_paused_'),
        resumed: resumed.state,
        started_after_resume: start.task_run.state,
      };
    }),

  kill_cascade: () =>
    withClient(async (ex) => {
      const [execution, a, b] = await started(ex, 'kill_cascade', 'a', 'b');
      await ex.transitionTaskRun({ task_run_id: a.id, state: 'STATE_RUNNING' });
      const killed = (await ex.killExecution({ execution_id: execution.id })).execution;
      const byId = Object.fromEntries(killed.task_runs.map((t) => [t.id, t]));
      const reported = await ex.transitionTaskRun({ task_run_id: a.id, state: 'STATE_KILLED' });
      const final = (await ex.getExecution({ execution_id: execution.id })).execution;
      return {
        execution_after_kill: killed.state,
        running_task_run_after_kill: byId[a.id].state,
        created_task_run_after_kill: byId[b.id].state,
        execution_after_report: reported.execution_state,
        execution_final: final.state,
      };
    }),

  // The Node client does not reconnect by itself: its stream keeps
  // `lastSequence`, and this opens it again after it, as client/node's README says.
  subscription_resume: () =>
    withClient(async (ex, sh) => {
      const ns = namespace('subscription_resume');
      const items = [];
      let wake = () => {};
      let opens = 0;
      let stream = null;
      let closed = false;
      const open = (after) => {
        opens += 1;
        stream = sh.events.subscribe({ filter: { namespace: ns }, after_sequence: after });
        const current = stream;
        current.on('data', (message) => {
          if (message.payload === 'event') items.push(message.event);
          wake();
        });
        let over = false;
        const ended = () => {
          // 'error' and 'end' may both come: reopen once.
          if (closed || over) return;
          over = true;
          // Failed (UNAVAILABLE while the server restarts) or ended: again after
          // the last sequence, after a pause.
          setTimeout(() => !closed && open(current.lastSequence ?? after), 200);
        };
        current.on('error', ended);
        current.on('end', ended);
      };
      const next = async () => {
        const deadline = Date.now() + WAIT_MS;
        while (items.length === 0) {
          if (Date.now() > deadline) throw new Error(`no event in ${WAIT_MS} ms`);
          await new Promise((resolve) => {
            wake = resolve;
            setTimeout(resolve, 100);
          });
        }
        return items.shift();
      };
      open('0');
      try {
        const before = (await ex.createExecution({ namespace: ns, flow_id: 'before' })).execution;
        const received = [await next()];
        const created = await askRestart(ns);
        // The channel may still be reconnecting: the same request, same id, until taken.
        const request = { namespace: ns, flow_id: 'after', request_id: `conformance-${crypto.randomUUID()}` };
        const deadline = Date.now() + WAIT_MS;
        let after;
        for (;;) {
          try {
            after = (await ex.createExecution(request)).execution;
            break;
          } catch (error) {
            if (error.codeName !== 'UNAVAILABLE' || Date.now() > deadline) throw error;
            await new Promise((resolve) => setTimeout(resolve, 200));
          }
        }
        const expected = [...created, after.id];
        while (received[received.length - 1].execution_id !== after.id) received.push(await next());
        const ids = received.map((e) => e.execution_id);
        const sequences = received.map((e) => BigInt(e.sequence));
        const ordered = sequences.every((s, i) => i === 0 || sequences[i - 1] < s);
        return {
          before_restart: String(ids.filter((id) => id === before.id).length),
          after_restart: String(received.length - 1),
          missing: String(expected.filter((id) => !ids.includes(id)).length),
          duplicates: String(ids.length - new Set(ids).size),
          in_order: String(ordered && JSON.stringify(ids.slice(1)) === JSON.stringify(expected)),
          reopened: String(opens > 1),
        };
      } finally {
        closed = true;
        stream.cancel();
      }
    }),

  permission_denied: () =>
    withClient(
      async (ex) => {
        const ns = namespace('permission_denied');
        await ex.countExecutions({ namespace: ns });
        const error = await refused(
          () => ex.createExecution({ namespace: ns, flow_id: 'etl' }),
          'a create by a reader',
        );
        return { read_allowed: 'true', ...refusal(error), role_needed: error.metadata.role_needed };
      },
      env.authTarget,
      env.readerToken,
    ),
};

async function main() {
  for (const name of process.argv.slice(2)) {
    const scenario = scenarios[name];
    if (!scenario) {
      emit({ scenario: name, status: 'fail', why: 'this driver has no such scenario' });
      continue;
    }
    try {
      emit({ scenario: name, status: 'ran', observed: await scenario() });
    } catch (error) {
      console.error(error);
      emit({ scenario: name, status: 'fail', why: `${error.name}: ${error.message}` });
    }
  }
  stdin.close();
}

main();
