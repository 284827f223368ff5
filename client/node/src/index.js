'use strict';
/**
 * A small Node.js client of Statehouse over gRPC.
 *
 * The service definitions are loaded at run time with @grpc/proto-loader;
 * nothing is generated. In the repository (this package is client/node, beside
 * protos/) they are the repository's protos, so the client always speaks the
 * contract in the tree; an installed copy (npm pack, npm install <tarball>)
 * uses the protos its prepack script copied into the package (protos/). Field names are kept as in the
 * protos (snake_case), 64-bit integers are strings (compare them as BigInt),
 * enums are their names ("STATE_RUNNING"). google.protobuf.Struct values
 * (inputs, outputs) use protobufjs' camelCase names ({ stringValue: 'x' }):
 * toStruct() and fromStruct() convert plain JSON objects to and from them.
 *
 *   const { connect } = require('statehouse-node-client');
 *   const sh = connect('127.0.0.1:50051', { token: process.env.MY_TOKEN, tls: { ca: 'ca.pem' } });
 *   const { execution } = await sh.executions.createExecution({ namespace: 'demo', flow_id: 'hello' });
 *   for await (const msg of sh.events.subscribe({ after_sequence: '0' })) { ... }
 *   sh.close();
 *
 * Credentials: `token` is sent as `authorization: Bearer <token>` on every
 * call and stream; `tls` turns TLS on (true: the system's roots; or
 * { ca, cert, key, serverName } with PEM Buffers, PEM text or file paths; cert
 * and key for mTLS). Without the options, STATEHOUSE_TOKEN and
 * STATEHOUSE_TLS_CA (a CA file, which also turns TLS on) are used.
 *
 * Every failed call rejects with a StatehouseError, which carries the gRPC code
 * and the google.rpc details the server sent in the grpc-status-details-bin
 * trailer: the ErrorInfo (reason, domain, metadata), field violations
 * (BadRequest) and precondition failures (PreconditionFailure).
 *
 * A request is checked against the protos before it is sent: a field name the
 * message does not have (a typo, or camelCase where the names are snake_case)
 * or an enum name its enum does not have is refused with an INVALID_ARGUMENT
 * StatehouseError (reason MALFORMED_REQUEST, a field violation naming each, for
 * an enum its names), as the server refuses them over JSON. protobufjs would
 * otherwise drop both silently, and the server would see the field unset.
 */

const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const protobuf = require('protobufjs');

const PACKAGE = path.resolve(__dirname, '..');
const THIRD_PARTY = path.join(PACKAGE, 'third_party');
/** The repository's protos, when this package is the repository's client/node. */
const REPOSITORY_PROTOS = path.resolve(PACKAGE, '..', '..', 'protos');
/** The copy `npm pack` puts in the package (scripts/bundle-protos.js; not in git). */
const BUNDLED_PROTOS = path.join(PACKAGE, 'protos');
const SERVICE_FILES = [
  'statehouse/v1/execution_service.proto',
  'statehouse/v1/event_service.proto',
  'statehouse/v1/metric_service.proto',
  'statehouse/v1/admin_service.proto',
];
const LOADER_OPTIONS = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
};
const DEFAULT_TIMEOUT_MS = 10_000;

/**
 * The directory holding statehouse/v1/*.proto: the repository's protos/ when
 * this package is the repository's client/node (never a copy that could be
 * older than the tree), else the copy bundled in the package.
 */
function protosDirectory() {
  const inRepository =
    path.basename(PACKAGE) === 'node' &&
    path.basename(path.dirname(PACKAGE)) === 'client' &&
    fs.existsSync(path.join(REPOSITORY_PROTOS, SERVICE_FILES[0]));
  const candidates = inRepository ? [REPOSITORY_PROTOS, BUNDLED_PROTOS] : [BUNDLED_PROTOS, REPOSITORY_PROTOS];
  const found = candidates.find((dir) => fs.existsSync(path.join(dir, SERVICE_FILES[0])));
  if (!found) {
    throw new Error(
      `statehouse: the Statehouse protos are in neither ${BUNDLED_PROTOS} nor ${REPOSITORY_PROTOS}; ` +
        "install a package made by `npm pack` in the repository's client/node (its prepack script " +
        "bundles them), or use client/node inside the repository",
    );
  }
  return found;
}

let cachedApi;

/** The statehouse.v1 package as grpc-js service constructors (loaded once). */
function loadApi() {
  if (!cachedApi) {
    const definition = protoLoader.loadSync(SERVICE_FILES, {
      ...LOADER_OPTIONS,
      includeDirs: [protosDirectory(), THIRD_PARTY],
    });
    cachedApi = grpc.loadPackageDefinition(definition).statehouse.v1;
  }
  return cachedApi;
}

let cachedRpcTypes;

/** google.rpc.Status and the error detail messages, for decoding errors. */
function rpcTypes() {
  if (!cachedRpcTypes) {
    const root = new protobuf.Root();
    root.resolvePath = (_origin, target) =>
      target.startsWith('google/protobuf/') ? target : path.join(THIRD_PARTY, target);
    root.loadSync(['google/rpc/status.proto', 'google/rpc/error_details.proto'], { keepCase: true });
    cachedRpcTypes = root;
  }
  return cachedRpcTypes;
}

const TO_OBJECT = { longs: String, enums: String, defaults: true, arrays: true, objects: true };

let cachedContract;

/**
 * The service protos as protobufjs reflection, with the names proto-loader
 * encodes requests with (keepCase), for checking requests before they are sent.
 */
function contract() {
  if (!cachedContract) {
    const includeDirs = [protosDirectory(), THIRD_PARTY];
    const root = new protobuf.Root();
    // google/protobuf/*.proto: protobufjs' own copies, as proto-loader uses.
    root.resolvePath = (_origin, target) =>
      includeDirs.map((dir) => path.join(dir, target)).find((full) => fs.existsSync(full)) ?? target;
    root.loadSync(SERVICE_FILES, { keepCase: true });
    root.resolveAll();
    cachedContract = root;
  }
  return cachedContract;
}

/** The request type of the RPC at `rpcPath` ("/statehouse.v1.ExecutionService/GetExecution"). */
function requestTypeOf(rpcPath) {
  const [, service, method] = rpcPath.split('/');
  return contract().lookupService(service).methods[method].resolvedRequestType;
}

function has(object, key) {
  return Object.prototype.hasOwnProperty.call(object, key);
}

/** "is not a field of X: did you mean task_run_id?", or X's fields when none is close. */
function unknownField(type, key) {
  const fold = (name) => name.toLowerCase().replace(/[_-]/g, '');
  const names = Object.keys(type.fields);
  const close = names.find((name) => fold(name) === fold(key));
  const text = `is not a field of ${type.name}`;
  return close ? `${text}: did you mean ${close}?` : `${text} (its fields: ${names.join(', ') || 'none'})`;
}

/** One value of `field` (an item of a list, a map's value): an enum name, or a message's fields. */
function checkValue(field, value, at, out) {
  if (value === null || value === undefined) return;
  const type = field.resolvedType;
  if (type instanceof protobuf.Enum) {
    // A number goes as it is (the server refuses one its enum does not define).
    if (typeof value === 'number' || (typeof value === 'string' && has(type.values, value))) return;
    const names = Object.entries(type.values)
      .filter(([, number]) => number !== 0)
      .map(([name]) => name);
    out.push({
      field: at,
      description: `${JSON.stringify(value)} is not a known value of ${type.name}; expected one of ${names.join(', ')}`,
    });
  } else if (type instanceof protobuf.Type) {
    checkMessage(type, value, `${at}.`, out);
  }
}

/** The field violations of a request object for `type`: unknown fields and enum names. */
function checkMessage(type, object, prefix, out) {
  if (typeof object !== 'object' || Array.isArray(object) || Buffer.isBuffer(object)) {
    out.push({ field: prefix.slice(0, -1) || 'request', description: `must be an object (${type.name})` });
    return;
  }
  if (object.$type !== undefined) return; // a protobufjs message, not a plain object
  for (const [key, value] of Object.entries(object)) {
    const at = `${prefix}${key}`;
    if (!has(type.fields, key)) {
      // A oneof's name (`oneofs: true` adds it to the objects received) is ignored.
      if (!(type.oneofs && has(type.oneofs, key))) out.push({ field: at, description: unknownField(type, key) });
      continue;
    }
    if (value === null || value === undefined) continue;
    const field = type.fields[key];
    if (field.map) {
      if (typeof value === 'object' && !Array.isArray(value)) {
        for (const [k, item] of Object.entries(value)) checkValue(field, item, `${at}['${k}']`, out);
      }
    } else if (field.repeated) {
      if (Array.isArray(value)) value.forEach((item, i) => checkValue(field, item, `${at}[${i}]`, out));
    } else {
      checkValue(field, value, at, out);
    }
  }
}

/**
 * The StatehouseError a request is refused with before it is sent (unknown
 * fields, unknown enum names), or null when it may go.
 */
function refusal(type, request) {
  const violations = [];
  checkMessage(type, request ?? {}, '', violations);
  if (violations.length === 0) return null;
  const message = `${violations.map((v) => `${v.field}: ${v.description}`).join('; ')} (refused before sending)`;
  const code = grpc.status.INVALID_ARGUMENT;
  return new StatehouseError(
    { code, details: message, message },
    {
      code,
      message,
      details: [
        { type: 'google.rpc.ErrorInfo', reason: 'MALFORMED_REQUEST', domain: 'statehouse', metadata: {} },
        { type: 'google.rpc.BadRequest', field_violations: violations },
      ],
    },
  );
}

/**
 * Decodes the google.rpc.Status of a failed call, or returns null when the
 * server sent none. Each detail is { type: 'google.rpc.ErrorInfo', ...fields }.
 */
function decodeStatusDetails(metadata) {
  const raw = metadata ? metadata.get('grpc-status-details-bin') : [];
  if (!raw || raw.length === 0) {
    return null;
  }
  const status = rpcTypes().lookupType('google.rpc.Status').decode(raw[0]);
  return { code: status.code, message: status.message, details: decodeAnyDetails(status.details) };
}

/** google.protobuf.Any details ({ type_url, value }) as { type, ...fields }. */
function decodeAnyDetails(anys) {
  const root = rpcTypes();
  return (anys || []).map((any) => {
    const type = any.type_url.slice(any.type_url.lastIndexOf('/') + 1);
    let fields;
    try {
      fields = root.lookupType(type).toObject(root.lookupType(type).decode(any.value), TO_OBJECT);
    } catch {
      fields = { value: Buffer.from(any.value) };
    }
    return { type, ...fields };
  });
}

/** A failed Statehouse call: the gRPC status and its google.rpc details. */
class StatehouseError extends Error {
  constructor(serviceError, status = decodeStatusDetails(serviceError.metadata)) {
    super(serviceError.details || serviceError.message, { cause: serviceError });
    this.name = 'StatehouseError';
    /** The numeric gRPC code (grpc.status.FAILED_PRECONDITION, ...). */
    this.code = serviceError.code;
    /** The code's name ("FAILED_PRECONDITION"). */
    this.codeName = grpc.status[serviceError.code];
    /** Every decoded detail, in the order the server sent them. */
    this.details = status ? status.details : [];
    const info = this.details.find((d) => d.type === 'google.rpc.ErrorInfo');
    /** ErrorInfo.reason ("INVALID_TRANSITION"), or '' without an ErrorInfo. */
    this.reason = info ? info.reason : '';
    /** ErrorInfo.domain ("statehouse"). */
    this.domain = info ? info.domain : '';
    /** ErrorInfo.metadata (for INVALID_TRANSITION: current_state, requested_state). */
    this.metadata = info ? info.metadata : {};
    const badRequest = this.details.find((d) => d.type === 'google.rpc.BadRequest');
    /** BadRequest field violations: [{ field, description, ... }]. */
    this.fieldViolations = badRequest ? badRequest.field_violations : [];
  }

  /**
   * The error of one failed item of a batch (TransitionTaskRuns): its
   * ItemStatus ({ code, message, details }, the fields of a google.rpc.Status).
   */
  static fromItemStatus(item) {
    const status = { code: item.code, message: item.message, details: decodeAnyDetails(item.details) };
    return new StatehouseError({ code: item.code, details: item.message, message: item.message }, status);
  }
}

/**
 * The results of a TransitionTaskRuns response, in the order of its items:
 * each the item's TransitionTaskRunResponse, or the StatehouseError that
 * transitionTaskRun would have rejected with for it.
 */
function transitionResults(response) {
  return response.results.map((result) =>
    result.result === 'response' ? result.response : StatehouseError.fromItemStatus(result.error),
  );
}

/** A plain JSON value as a google.protobuf.Value. */
function toValue(value) {
  if (value === null || value === undefined) return { nullValue: 'NULL_VALUE' };
  if (typeof value === 'number') return { numberValue: value };
  if (typeof value === 'string') return { stringValue: value };
  if (typeof value === 'boolean') return { boolValue: value };
  if (Array.isArray(value)) return { listValue: { values: value.map(toValue) } };
  return { structValue: toStruct(value) };
}

/** A plain JSON object as a google.protobuf.Struct (for inputs and outputs). */
function toStruct(object) {
  return { fields: Object.fromEntries(Object.entries(object).map(([k, v]) => [k, toValue(v)])) };
}

/** A google.protobuf.Value as received, as a plain JSON value. */
function fromValue(value) {
  switch (value.kind) {
    case 'numberValue':
      return value.numberValue;
    case 'stringValue':
      return value.stringValue;
    case 'boolValue':
      return value.boolValue;
    case 'listValue':
      return (value.listValue.values || []).map(fromValue);
    case 'structValue':
      return fromStruct(value.structValue);
    default:
      return null;
  }
}

/** A google.protobuf.Struct as received (or null when unset), as a plain object. */
function fromStruct(struct) {
  if (!struct) return null;
  return Object.fromEntries(Object.entries(struct.fields || {}).map(([k, v]) => [k, fromValue(v)]));
}

function lowerFirst(name) {
  return name.charAt(0).toLowerCase() + name.slice(1);
}

/** Whether an 'error' a grpc-js call emits is its status (a grpc-js ServiceError). */
function isCallStatusError(error) {
  return Boolean(error) && typeof error.code === 'number' && error.metadata instanceof grpc.Metadata;
}

/** A google.protobuf.Duration as given in a request ({ seconds, nanos }), in milliseconds; 0 when unset. */
function durationMs(duration) {
  if (!duration) return 0;
  const ms = Number(duration.seconds ?? 0) * 1000 + Number(duration.nanos ?? 0) / 1e6;
  return Number.isFinite(ms) && ms > 0 ? ms : 0;
}

/**
 * How long the server may hold a call before it answers, by RPC path: added to
 * the call's deadline (as the Python SDK does), so a long poll is not cut short
 * by the client's own timeout.
 */
const SERVER_WAITS = {
  '/statehouse.v1.ExecutionService/ClaimTaskRuns': (request) => durationMs(request.wait),
};

/**
 * Wraps one grpc-js service client: unary methods return promises, server
 * streams are returned as grpc-js streams (async-iterable) whose errors are
 * StatehouseErrors.
 *
 * A stream its consumer leaves before its end is cancelled on the server:
 * leaving a `for await` loop (break, return, a throw in its body) destroys the
 * stream, and so does stream.destroy(); the status that follows (CANCELLED,
 * or whatever the server sent meanwhile) is not emitted, there is nobody left
 * to tell. `openStreams` holds the streams not yet ended, which close() ends.
 */
function wrapService(ServiceClient, channel, interceptors, timeoutMs, openStreams) {
  const raw = new ServiceClient('unused', grpc.credentials.createInsecure(), {
    channelOverride: channel,
    interceptors,
  });
  const wrapped = { raw };
  for (const [name, method] of Object.entries(ServiceClient.service)) {
    const fn = raw[name].bind(raw);
    const key = lowerFirst(name);
    const requestType = requestTypeOf(method.path);
    if (method.responseStream) {
      // A refused request throws at once: there is no stream to fail.
      wrapped[key] = (request = {}, options = {}) => {
        const refused = refusal(requestType, request);
        if (refused) throw refused;
        const call = fn(request, options);
        let ended = false;
        let left = false;
        openStreams.add(call);
        call.on('status', () => {
          ended = true;
          openStreams.delete(call);
        });
        const emit = call.emit.bind(call);
        call.emit = (event, ...args) => {
          if (event === 'error' && isCallStatusError(args[0])) {
            return left ? false : emit(event, new StatehouseError(args[0]));
          }
          return emit(event, ...args);
        };
        // Readable.destroy() calls _destroy: from the async iterator when a
        // for await loop is left, or from the consumer.
        call._destroy = (error, callback) => {
          left = true;
          openStreams.delete(call);
          if (!ended) call.cancel();
          callback(error);
        };
        return call;
      };
    } else {
      wrapped[key] = (request = {}, options = {}) =>
        new Promise((resolve, reject) => {
          const refused = refusal(requestType, request);
          if (refused) {
            reject(refused);
            return;
          }
          const waits = SERVER_WAITS[method.path];
          const deadline = options.deadline ?? new Date(Date.now() + timeoutMs + (waits ? waits(request) : 0));
          fn(request, { ...options, deadline }, (error, response) =>
            error ? reject(new StatehouseError(error)) : resolve(response),
          );
        });
    }
  }
  return wrapped;
}

/** The most events a subscription asks for in one message (the server's own cap). */
const MAX_EVENTS_PER_MESSAGE = 1000;

/** The request's after_sequence as a BigInt, or null when it is not a sequence. */
function sequenceOf(value) {
  try {
    return BigInt(String(value ?? 0));
  } catch {
    return null;
  }
}

/** The response header of a Subscribe stream that says where it starts. */
const START_SEQUENCE_HEADER = 'statehouse-start-sequence';

/**
 * Turns a Subscribe stream of the server's messages into one message per
 * event, as when each event came alone: a message carrying several events
 * (`events`, sent when the request set max_events_per_message above 1) is
 * handed over as one { payload: 'event', event } message per event, in order.
 * An event at or below the cursor (the request's after_sequence, then the last
 * event or heartbeat received) is dropped. The stream counts
 * `messagesReceived` (from the server: a batch once), `eventsReceived` (every
 * event in them) and `duplicatesDropped`.
 *
 * Where the stream starts: the server sends `statehouse-start-sequence` in the
 * stream's headers as soon as it accepts it (the 'metadata' event, before any
 * message), the sequence after which its events come (with from_latest, the
 * newest event at that moment). The stream keeps it as `startSequence`, and a
 * from_latest stream takes it as its cursor, so `lastSequence` (the cursor: the
 * sequence to resume after, a string, or null while unknown) is known from then
 * on, even before any event. Both are null with a server that sends no such header.
 */
function unbatchSubscription(call, request) {
  let cursor = request.from_latest ? null : sequenceOf(request.after_sequence);
  call.messagesReceived = 0;
  call.eventsReceived = 0;
  call.duplicatesDropped = 0;
  call.startSequence = null;
  Object.defineProperty(call, 'lastSequence', {
    enumerable: true,
    get: () => (cursor === null ? null : String(cursor)),
  });
  // Registered first: the stream knows where it starts before any other
  // 'metadata' listener runs, and before its first message.
  call.on('metadata', (metadata) => {
    const values = metadata.get(START_SEQUENCE_HEADER);
    const start = values.length > 0 ? sequenceOf(values[0]) : null;
    if (start === null || start < 0n) return;
    call.startSequence = String(start);
    if (cursor === null) cursor = start;
  });
  const push = call.push.bind(call);
  // grpc-js pushes each message it receives (null at the end).
  call.push = (message) => {
    if (message === null) return push(null);
    call.messagesReceived += 1;
    if (message.payload === 'heartbeat') {
      const sequence = sequenceOf(message.heartbeat.sequence);
      if (cursor === null || sequence > cursor) cursor = sequence;
      return push(message);
    }
    const events = message.payload === 'event' ? [message.event] : message.events || [];
    if (events.length === 0) return push(message);
    let pushed = false;
    let more = true;
    for (const event of events) {
      call.eventsReceived += 1;
      const sequence = sequenceOf(event.sequence);
      if (cursor !== null && sequence <= cursor) {
        call.duplicatesDropped += 1;
        continue;
      }
      cursor = sequence;
      pushed = true;
      more = push({ ...message, event, events: [], payload: 'event' });
    }
    // Nothing handed over: the stream still waits for a message, read the next.
    if (!pushed) call._read();
    return more;
  };
  return call;
}

/** A PEM given as a Buffer, as PEM text or as the path of a file. */
function readPem(value, what) {
  if (value === undefined || value === null || value === '') return null;
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return Buffer.from(value);
  if (typeof value === 'string') {
    if (value.includes('-----BEGIN ')) return Buffer.from(value);
    try {
      return fs.readFileSync(value);
    } catch (error) {
      throw new Error(`statehouse: cannot read the TLS ${what} ${value}: ${error.message}`, {
        cause: error,
      });
    }
  }
  throw new TypeError(`statehouse: tls.${what} must be a Buffer, PEM text or a file path`);
}

/** The host of a gRPC target ("host:port", "[::1]:port", "dns:///host:port"), or null for unix sockets. */
function targetHost(target) {
  let rest = target;
  if (/^unix(-abstract)?:/.test(rest)) return null;
  rest = rest.replace(/^(dns|ipv4|ipv6):(\/\/[^/]*\/)?/, '');
  rest = rest.split(',')[0];
  if (rest.startsWith('[')) return rest.slice(1, rest.indexOf(']') > 0 ? rest.indexOf(']') : undefined);
  if (net.isIPv6(rest)) return rest;
  const colon = rest.lastIndexOf(':');
  return colon >= 0 ? rest.slice(0, colon) : rest;
}

/** Whether a target is this machine (loopback addresses, localhost, unix sockets). */
function isLoopback(target) {
  const host = targetHost(target);
  if (host === null) return true;
  const lower = host.toLowerCase();
  if (lower === 'localhost' || lower.endsWith('.localhost')) return true;
  if (net.isIPv4(lower)) return lower.startsWith('127.');
  if (net.isIPv6(lower)) return lower === '::1' || /^(0{1,4}:){7}0{0,3}1$/.test(lower) || /^::ffff:127\./.test(lower);
  return false;
}

/** The channel credentials and channel options for connect()'s `tls`. */
function tlsCredentials(tls) {
  const settings = tls === true ? {} : tls;
  if (typeof settings !== 'object' || settings === null) {
    throw new TypeError('statehouse: tls must be true or { ca, cert, key, serverName }');
  }
  const ca = readPem(settings.ca ?? process.env.STATEHOUSE_TLS_CA, 'ca');
  const cert = readPem(settings.cert, 'cert');
  const key = readPem(settings.key, 'key');
  if (Boolean(cert) !== Boolean(key)) {
    throw new TypeError('statehouse: tls.cert and tls.key go together (a client certificate and its key)');
  }
  const channelOptions = {};
  if (settings.serverName) {
    channelOptions['grpc.ssl_target_name_override'] = settings.serverName;
    channelOptions['grpc.default_authority'] = settings.serverName;
  }
  return { credentials: grpc.credentials.createSsl(ca, key, cert), channelOptions };
}

/** Sets `authorization: Bearer <token>` on every call made through a client. */
function bearerInterceptor(authorization) {
  return (options, nextCall) =>
    new grpc.InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        metadata.set('authorization', authorization);
        next(metadata, listener);
      },
    });
}

/**
 * OpenTelemetry's API, when the application has it (it is never required): its
 * propagation and context, or null.
 */
function openTelemetry() {
  try {
    return require('@opentelemetry/api');
  } catch {
    return null;
  }
}

/**
 * Sends the caller's trace context (W3C `traceparent` with the application's
 * propagator) on every call and stream started while a span is active, so the
 * server's span of the call is a child of the caller's. Null without
 * @opentelemetry/api: nothing is added.
 */
function traceInterceptor(api = openTelemetry()) {
  if (!api) return null;
  const setter = { set: (metadata, key, value) => metadata.set(key, String(value)) };
  return (options, nextCall) =>
    new grpc.InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        const active = api.context.active();
        if (api.trace.getSpanContext(active)) {
          api.propagation.inject(active, metadata, setter);
        }
        next(metadata, listener);
      },
    });
}

/**
 * Connects to a Statehouse server. Returns { executions, events, metrics,
 * admin, close }; each service has one method per RPC (createExecution,
 * subscribe, createToken, ...), and `raw`, its grpc-js client.
 * executions.transitionTaskRuns({ requests: [...] }) resolves to an array with
 * one entry per item, in order: its TransitionTaskRunResponse, or the
 * StatehouseError transitionTaskRun would have rejected with (not thrown).
 * executions.claimTaskRuns's deadline is the client's timeout plus the
 * request's `wait` (the long poll); executions.heartbeat resolves to the
 * HeartbeatResponse, one result per item (StatehouseError.fromItemStatus turns
 * a refused item's `error` into a StatehouseError).
 * events.subscribe asks for several events per message (max_events_per_message
 * 1000 unless the request sets it) and hands them over one message per event,
 * as before; its stream has `startSequence` (from the stream's headers) and
 * `lastSequence`, the sequence to resume after with after_sequence when
 * subscribing again (see unbatchSubscription).
 *
 * target: "host:port" (default $STATEHOUSE_TARGET, else 127.0.0.1:50051).
 * options:
 *   token      a bearer token, sent as `authorization: Bearer <token>` on every
 *              call and stream (default $STATEHOUSE_TOKEN; '' for none).
 *   tls        true (TLS, trusting the system's roots or $STATEHOUSE_TLS_CA),
 *              { ca, cert, key, serverName } (PEM Buffers, PEM text or file
 *              paths; cert and key present a client certificate for mTLS;
 *              serverName checks the certificate for that name instead of the
 *              target's host), or false (plaintext). Default: TLS with
 *              $STATEHOUSE_TLS_CA as the CA when it is set, else plaintext.
 *   credentials  grpc-js ChannelCredentials, instead of tls.
 *   allowPlaintextToken  send a token without TLS to a host that is not this
 *              machine (refused by default: anyone on the path could read it).
 *   timeoutMs  the deadline of each unary call (default 10 s; a claim adds
 *              its wait).
 *   channelOptions  more grpc-js channel options.
 *
 * With @opentelemetry/api installed, every call and stream started while a span
 * is active carries its context (W3C `traceparent`, by the global propagator).
 */
function connect(target = process.env.STATEHOUSE_TARGET || '127.0.0.1:50051', options = {}) {
  const {
    token = process.env.STATEHOUSE_TOKEN || '',
    tls = process.env.STATEHOUSE_TLS_CA ? true : false,
    credentials: given,
    allowPlaintextToken = false,
    timeoutMs = DEFAULT_TIMEOUT_MS,
    channelOptions: extraOptions = {},
  } = options;
  if (given && options.tls) {
    throw new TypeError('statehouse: pass either credentials or tls, not both');
  }
  let credentials = given || grpc.credentials.createInsecure();
  let channelOptions = {};
  if (!given && tls) {
    ({ credentials, channelOptions } = tlsCredentials(tls));
  }
  const interceptors = [];
  const tracing = traceInterceptor();
  if (tracing) interceptors.push(tracing);
  if (token) {
    if (typeof token !== 'string' || /[^\x20-\x7e]/.test(token)) {
      throw new TypeError('statehouse: the token must be a string of printable ASCII characters');
    }
    const authorization = `Bearer ${token}`;
    if (credentials._isSecure()) {
      const callCredentials = grpc.credentials.createFromMetadataGenerator((_params, callback) => {
        const metadata = new grpc.Metadata();
        metadata.set('authorization', authorization);
        callback(null, metadata);
      });
      credentials = grpc.credentials.combineChannelCredentials(credentials, callCredentials);
    } else {
      // grpc-js refuses call credentials on an insecure channel: the header is
      // set on each call instead, which only makes sense on this machine.
      if (!allowPlaintextToken && !isLoopback(target)) {
        throw new Error(
          `statehouse: refusing to send a token without TLS to ${target}; ` +
            'pass tls (or set STATEHOUSE_TLS_CA), or allowPlaintextToken: true',
        );
      }
      interceptors.push(bearerInterceptor(authorization));
    }
  }
  const channel = new grpc.Channel(target, credentials, { ...channelOptions, ...extraOptions });
  const openStreams = new Set();
  const api = loadApi();
  const wrap = (Service) => wrapService(Service, channel, interceptors, timeoutMs, openStreams);
  const executions = wrap(api.ExecutionService);
  // Items succeed or fail one by one: resolves to one entry per item (see
  // transitionResults); rejects only when the whole call fails.
  const transitionTaskRunsCall = executions.transitionTaskRuns;
  executions.transitionTaskRuns = async (request = {}, callOptions = {}) =>
    transitionResults(await transitionTaskRunsCall(request, callOptions));
  const events = wrap(api.EventService);
  // Several events per message, unless the request says otherwise; handed over
  // one by one (see unbatchSubscription).
  const subscribeCall = events.subscribe;
  events.subscribe = (request = {}, callOptions = {}) =>
    unbatchSubscription(
      subscribeCall(
        { ...request, max_events_per_message: request.max_events_per_message ?? MAX_EVENTS_PER_MESSAGE },
        callOptions,
      ),
      request,
    );
  const metrics = wrap(api.MetricService);
  const admin = wrap(api.AdminService);
  return {
    executions,
    events,
    metrics,
    admin,
    /** The grpc-js channel every service shares. */
    channel,
    /**
     * Cancels every stream still open, then closes the channel, so nothing
     * keeps the process alive. A stream with a consumer (a for await loop, an
     * 'error' listener) fails with a CANCELLED StatehouseError; one nobody
     * listens to for errors is destroyed quietly (an unhandled 'error' would
     * crash the process).
     */
    close() {
      for (const call of [...openStreams]) {
        openStreams.delete(call);
        if (call.listenerCount('error') > 0) call.cancel();
        else call.destroy();
      }
      channel.close();
    },
  };
}

module.exports = {
  connect,
  loadApi,
  protosDirectory,
  decodeStatusDetails,
  StatehouseError,
  toStruct,
  fromStruct,
  isLoopback,
  traceInterceptor,
  grpc,
};
