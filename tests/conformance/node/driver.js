// The conformance driver of the JavaScript client on Node (client/ts,
// "statehouse-client": Connect-ES over gRPC).
//
// Usage, from the repository's root, with the suite's variables set
// (tests/conformance/README.md): node tests/conformance/node/driver.js SCENARIO...
// It prints a JSON line per scenario: {"scenario", "status": "ran", "observed"}
// or {"scenario", "status": "fail" | "not-supported", "why"}.
'use strict';

const crypto = require('node:crypto');
const path = require('node:path');
const readline = require('node:readline');
const { pathToFileURL } = require('node:url');

const ENTRY = pathToFileURL(path.join(__dirname, '..', '..', '..', 'client', 'ts', 'lib', 'src', 'node.js'));
/** The client's module (ESM), loaded by main(). */
let connect, State, StatehouseError, withRequestId;

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
  const { execution } = await ex.createExecution({ namespace: namespace(scenario), flowId: 'etl' });
  const runs = [];
  for (const taskId of tasks) {
    runs.push((await ex.createTaskRun({ executionId: execution.id, taskId })).taskRun);
  }
  return [execution, ...runs];
}

/** A state as the suite spells it ("STATE_RUNNING"). */
const stateName = (state) => `STATE_${State[state]}`;

const scenarios = {
  lifecycle: () =>
    withClient(async (ex) => {
      const [execution, run] = await started(ex, 'lifecycle', 'extract');
      const start = await ex.transitionTaskRun({ taskRunId: run.id, state: State.RUNNING });
      const done = await ex.transitionTaskRun({ taskRunId: run.id, state: State.SUCCESS });
      await ex.transitionExecution({ executionId: execution.id, state: State.SUCCESS });
      const final = (await ex.getExecution({ executionId: execution.id })).execution;
      return {
        execution_created: stateName(execution.state),
        task_run_created: stateName(run.state),
        execution_after_task_run_started: stateName(start.executionState),
        task_run_final: stateName(done.taskRun.state),
        execution_final: stateName(final.state),
        execution_history: final.history.map((h) => stateName(h.state)).join(' '),
      };
    }),

  illegal_move: () =>
    withClient(async (ex) => {
      const [, run] = await started(ex, 'illegal_move', 'extract');
      await ex.transitionTaskRun({ taskRunId: run.id, state: State.RUNNING });
      const error = await refused(
        () => ex.transitionTaskRun({ taskRunId: run.id, state: State.CREATED }),
        'the illegal move',
      );
      return {
        ...refusal(error),
        current_state: error.metadata.current_state,
        requested_state: error.metadata.requested_state,
      };
    }),

  // withRequestId gives the request an id, so the client may send it again.
  request_id_retry: () =>
    withClient(async (ex) => {
      const ns = namespace('request_id_retry');
      const request = withRequestId({ namespace: ns, flowId: 'etl' });
      const first = (await ex.createExecution(request)).execution;
      const again = (await ex.createExecution(request)).execution;
      const count = await ex.countExecutions({ namespace: ns });
      const error = await refused(() => ex.createExecution({ ...request, flowId: 'other' }), 'the reused request id');
      return {
        same_execution: String(first.id === again.id),
        executions_created: String(count.total),
        ...refusal(error, 'reused_'),
      };
    }),

  revision_conflict: () =>
    withClient(async (ex) => {
      const [execution] = await started(ex, 'revision_conflict');
      const request = { executionId: execution.id, expectedRevision: execution.revision };
      const moved = await ex.transitionExecution({ ...request, state: State.RUNNING });
      const error = await refused(
        () => ex.transitionExecution({ ...request, state: State.SUCCESS }),
        'the stale expected_revision',
      );
      return {
        first_move: stateName(moved.execution.state),
        ...refusal(error),
        current_revision: error.metadata.current_revision,
        expected_revision: error.metadata.expected_revision,
      };
    }),

  pause_resume: () =>
    withClient(async (ex) => {
      const [execution, a, b] = await started(ex, 'pause_resume', 'a', 'b');
      await ex.transitionTaskRun({ taskRunId: a.id, state: State.RUNNING });
      const paused = (await ex.pauseExecution({ executionId: execution.id })).execution;
      const error = await refused(
        () => ex.transitionTaskRun({ taskRunId: b.id, state: State.RUNNING }),
        'a start in a paused execution',
      );
      const resumed = (await ex.resumeExecution({ executionId: execution.id })).execution;
      const start = await ex.transitionTaskRun({ taskRunId: b.id, state: State.RUNNING });
      return {
        paused: stateName(paused.state),
        ...refusal(error, 'start_while_paused_'),
        resumed: stateName(resumed.state),
        started_after_resume: stateName(start.taskRun.state),
      };
    }),

  kill_cascade: () =>
    withClient(async (ex) => {
      const [execution, a, b] = await started(ex, 'kill_cascade', 'a', 'b');
      await ex.transitionTaskRun({ taskRunId: a.id, state: State.RUNNING });
      const killed = (await ex.killExecution({ executionId: execution.id })).execution;
      const byId = Object.fromEntries(killed.taskRuns.map((t) => [t.id, t]));
      const reported = await ex.transitionTaskRun({ taskRunId: a.id, state: State.KILLED });
      const final = (await ex.getExecution({ executionId: execution.id })).execution;
      return {
        execution_after_kill: stateName(killed.state),
        running_task_run_after_kill: stateName(byId[a.id].state),
        created_task_run_after_kill: stateName(byId[b.id].state),
        execution_after_report: stateName(reported.executionState),
        execution_final: stateName(final.state),
      };
    }),

  // The subscription reconnects by itself (UNAVAILABLE while the server
  // restarts) after its last sequence; the driver only reads it.
  subscription_resume: () =>
    withClient(async (ex, sh) => {
      const ns = namespace('subscription_resume');
      const subscription = sh.events.subscribe({ filter: { namespace: ns }, afterSequence: 0n });
      const events = subscription[Symbol.asyncIterator]();
      const next = async () => {
        let timer;
        const late = new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no event in ${WAIT_MS} ms`)), WAIT_MS);
        });
        try {
          for (;;) {
            const { value, done } = await Promise.race([events.next(), late]);
            if (done) throw new Error('the subscription ended');
            if (value.payload.case === 'event') return value.payload.value;
          }
        } finally {
          clearTimeout(timer);
        }
      };
      try {
        const before = (await ex.createExecution({ namespace: ns, flowId: 'before' })).execution;
        const received = [await next()];
        const created = await askRestart(ns);
        // A change with a request id: the client sends it again while the server comes back.
        const request = withRequestId({ namespace: ns, flowId: 'after' });
        const deadline = Date.now() + WAIT_MS;
        let after;
        for (;;) {
          try {
            after = (await ex.createExecution(request)).execution;
            break;
          } catch (error) {
            if (error.codeName !== 'UNAVAILABLE' || Date.now() > deadline) throw error;
          }
        }
        const expected = [...created, after.id];
        while (received[received.length - 1].executionId !== after.id) received.push(await next());
        const ids = received.map((e) => e.executionId);
        const sequences = received.map((e) => e.sequence);
        const ordered = sequences.every((s, i) => i === 0 || sequences[i - 1] < s);
        return {
          before_restart: String(ids.filter((id) => id === before.id).length),
          after_restart: String(received.length - 1),
          missing: String(expected.filter((id) => !ids.includes(id)).length),
          duplicates: String(ids.length - new Set(ids).size),
          in_order: String(ordered && JSON.stringify(ids.slice(1)) === JSON.stringify(expected)),
          reopened: String(subscription.opens > 1),
        };
      } finally {
        await events.return();
      }
    }),

  permission_denied: () =>
    withClient(
      async (ex) => {
        const ns = namespace('permission_denied');
        await ex.countExecutions({ namespace: ns });
        const error = await refused(() => ex.createExecution({ namespace: ns, flowId: 'etl' }), 'a create by a reader');
        return { read_allowed: 'true', ...refusal(error), role_needed: error.metadata.role_needed };
      },
      env.authTarget,
      env.readerToken,
    ),
};

async function main() {
  ({ connect, State, StatehouseError, withRequestId } = await import(ENTRY));
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
