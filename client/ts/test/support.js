// Helpers shared by the test files (not a test file itself: only *.test.js run).
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The package's entry for Node, as the tests and their children import it. */
export const ENTRY = fileURLToPath(new URL('../lib/src/node.js', import.meta.url));

/** Resolves once `predicate()` holds, or rejects after `ms`. */
export async function eventually(predicate, ms = 3000) {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The first message of a subscription, then break (which must cancel it). */
export async function firstMessage(sh, request = { fromLatest: true }, options = { retry: false }) {
  for await (const message of sh.events.subscribe(request, options)) {
    return message;
  }
  throw new Error('the stream ended without a message');
}

/** A subscription that sends a heartbeat every 100 ms, so a child gets a message at once. */
export const HEARTBEATS = 'fromLatest: true, heartbeatInterval: { nanos: 100000000 }';

/**
 * Runs `body` (the text of an async function body, with `sh` connected to
 * `target` with `connectOptions`, and `HEARTBEATS`, `StatehouseError` in scope)
 * in a child node process, which must then exit by itself: nothing may keep it
 * alive (an open stream would). Resolves to { code, output } once it exits;
 * rejects after `timeoutMs`, having killed it.
 */
export function runInChild(target, body, { connectOptions = {}, timeoutMs = 5000 } = {}) {
  const script = `
    import { connect, StatehouseError } from ${JSON.stringify(ENTRY)};
    const HEARTBEATS = { ${HEARTBEATS} };
    const sh = connect(${JSON.stringify(target)}, ${JSON.stringify(connectOptions)});
    try {
      ${body}
      process.stdout.write('done\\n');
    } catch (error) {
      console.error(error);
      process.exitCode = 2;
    }
  `;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
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
export function breakAndCloseInChild(target, connectOptions = {}, timeoutMs = 5000) {
  const body = `
      for await (const message of sh.events.subscribe(HEARTBEATS)) {
        process.stdout.write('received ' + message.payload.case + '\\n');
        break;
      }
      sh.close();
      process.stdout.write('closed\\n');
  `;
  return runInChild(target, body, { connectOptions, timeoutMs });
}
