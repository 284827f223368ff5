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

/**
 * Runs a child node process that connects, breaks out of a subscription after
 * its first message and closes the client: it must exit by itself.
 */
function breakAndCloseInChild(target, connectOptions = {}, timeoutMs = 5000) {
  const script = `
    const { connect } = require(${JSON.stringify(SRC)});
    (async () => {
      const sh = connect(${JSON.stringify(target)}, ${JSON.stringify(connectOptions)});
      for await (const message of sh.events.subscribe({ from_latest: true, heartbeat_interval: { nanos: 100000000 } })) {
        process.stdout.write('received ' + message.payload + '\\n');
        break;
      }
      sh.close();
      process.stdout.write('closed\\n');
    })().catch((error) => { console.error(error); process.exit(2); });
  `;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the process did not exit within ${timeoutMs} ms after close():\n${output}`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

module.exports = { breakAndCloseInChild, eventually, firstMessage };
