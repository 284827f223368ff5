'use strict';
// Helpers shared by the test files (not a test file itself: npm test runs test/*.test.js).

const path = require('node:path');
const { spawn } = require('node:child_process');

const SRC = path.resolve(__dirname, '..', 'src');

/** Resolves once `predicate()` holds, or rejects after `ms`. */
async function eventually(predicate, ms = 3000) {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The first message of a Subscribe stream, then break (which must cancel it). */
async function firstMessage(sh, request = { from_latest: true }) {
  for await (const message of sh.events.subscribe(request)) {
    return message;
  }
  throw new Error('the stream ended without a message');
}

/** A subscription that sends a heartbeat every 100 ms, so a child gets a message at once. */
const HEARTBEATS = { from_latest: true, heartbeat_interval: { nanos: 100000000 } };

/**
 * Runs `body` (the text of an async function body, with `sh` connected to
 * `target` with `connectOptions`, `HEARTBEATS` and `StatehouseError` in scope)
 * in a child node process, which must then exit by itself: nothing may keep it
 * alive (an open stream would). Resolves to { code, output } once it exits;
 * rejects after `timeoutMs`, having killed it.
 */
function runInChild(target, body, { connectOptions = {}, timeoutMs = 5000 } = {}) {
  const script = `
    const { connect, StatehouseError } = require(${JSON.stringify(SRC)});
    const HEARTBEATS = ${JSON.stringify(HEARTBEATS)};
    const sh = connect(${JSON.stringify(target)}, ${JSON.stringify(connectOptions)});
    (async () => {
      ${body}
    })().then(
      () => process.stdout.write('done\\n'),
      (error) => { console.error(error); process.exitCode = 2; },
    );
  `;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the process did not exit within ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/**
 * Runs a child node process that connects, breaks out of a subscription after
 * its first message and closes the client: it must exit by itself.
 */
function breakAndCloseInChild(target, connectOptions = {}, timeoutMs = 5000) {
  const body = `
      for await (const message of sh.events.subscribe(HEARTBEATS)) {
        process.stdout.write('received ' + message.payload + '\\n');
        break;
      }
      sh.close();
      process.stdout.write('closed\\n');
  `;
  return runInChild(target, body, { connectOptions, timeoutMs });
}

module.exports = { breakAndCloseInChild, eventually, firstMessage, runInChild };
