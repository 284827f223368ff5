'use strict';
/**
 * A small Node.js client of Statehouse over gRPC.
 *
 * The service definitions are loaded at run time from the repository's protos
 * (../../../protos) with @grpc/proto-loader, so this client always speaks the
 * contract in the tree; nothing is generated. Field names are kept as in the
 * protos (snake_case), 64-bit integers are strings (compare them as BigInt),
 * enums are their names ("STATE_RUNNING"). google.protobuf.Struct values
 * (inputs, outputs) use protobufjs' camelCase names ({ stringValue: 'x' }):
 * toStruct() and fromStruct() convert plain JSON objects to and from them.
 *
 *   const { connect } = require('statehouse-node-client');
 *   const sh = connect('127.0.0.1:50051');
 *   const { execution } = await sh.executions.createExecution({ namespace: 'demo', flow_id: 'hello' });
 *   for await (const msg of sh.events.subscribe({ after_sequence: '0' })) { ... }
 *   sh.close();
 *
 * Every failed call rejects with a StatehouseError, which carries the gRPC code
 * and the google.rpc details the server sent in the grpc-status-details-bin
 * trailer: the ErrorInfo (reason, domain, metadata), field violations
 * (BadRequest) and precondition failures (PreconditionFailure).
 */

const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const protobuf = require('protobufjs');

const PROTOS = path.resolve(__dirname, '..', '..', '..', 'protos');
const THIRD_PARTY = path.resolve(__dirname, '..', 'third_party');
const SERVICE_FILES = [
  'statehouse/v1/execution_service.proto',
  'statehouse/v1/event_service.proto',
  'statehouse/v1/metric_service.proto',
];
const LOADER_OPTIONS = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [PROTOS],
};
const DEFAULT_TIMEOUT_MS = 10_000;

let cachedApi;

/** The statehouse.v1 package as grpc-js service constructors (loaded once). */
function loadApi() {
  if (!cachedApi) {
    const definition = protoLoader.loadSync(SERVICE_FILES, LOADER_OPTIONS);
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

/**
 * Decodes the google.rpc.Status of a failed call, or returns null when the
 * server sent none. Each detail is { type: 'google.rpc.ErrorInfo', ...fields }.
 */
function decodeStatusDetails(metadata) {
  const raw = metadata ? metadata.get('grpc-status-details-bin') : [];
  if (!raw || raw.length === 0) {
    return null;
  }
  const root = rpcTypes();
  const status = root.lookupType('google.rpc.Status').decode(raw[0]);
  const details = status.details.map((any) => {
    const type = any.type_url.slice(any.type_url.lastIndexOf('/') + 1);
    let fields;
    try {
      fields = root.lookupType(type).toObject(root.lookupType(type).decode(any.value), TO_OBJECT);
    } catch {
      fields = { value: Buffer.from(any.value) };
    }
    return { type, ...fields };
  });
  return { code: status.code, message: status.message, details };
}

/** A failed Statehouse call: the gRPC status and its google.rpc details. */
class StatehouseError extends Error {
  constructor(serviceError) {
    super(serviceError.details || serviceError.message, { cause: serviceError });
    this.name = 'StatehouseError';
    /** The numeric gRPC code (grpc.status.FAILED_PRECONDITION, ...). */
    this.code = serviceError.code;
    /** The code's name ("FAILED_PRECONDITION"). */
    this.codeName = grpc.status[serviceError.code];
    const status = decodeStatusDetails(serviceError.metadata);
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

/**
 * Wraps one grpc-js service client: unary methods return promises, server
 * streams are returned as grpc-js streams (async-iterable) whose errors are
 * StatehouseErrors.
 */
function wrapService(ServiceClient, target, credentials, timeoutMs) {
  const raw = new ServiceClient(target, credentials);
  const wrapped = { raw };
  for (const [name, method] of Object.entries(ServiceClient.service)) {
    const fn = raw[name].bind(raw);
    const key = lowerFirst(name);
    if (method.responseStream) {
      wrapped[key] = (request = {}, options = {}) => {
        const call = fn(request, options);
        const emit = call.emit.bind(call);
        call.emit = (event, ...args) =>
          event === 'error' && args[0] && 'code' in args[0]
            ? emit(event, new StatehouseError(args[0]))
            : emit(event, ...args);
        return call;
      };
    } else {
      wrapped[key] = (request = {}, options = {}) =>
        new Promise((resolve, reject) => {
          const deadline = options.deadline ?? new Date(Date.now() + timeoutMs);
          fn(request, { ...options, deadline }, (error, response) =>
            error ? reject(new StatehouseError(error)) : resolve(response),
          );
        });
    }
  }
  return wrapped;
}

/**
 * Connects to a Statehouse server ("host:port", plaintext unless credentials
 * are given). Returns { executions, events, metrics, close }.
 */
function connect(target, { credentials = grpc.credentials.createInsecure(), timeoutMs = DEFAULT_TIMEOUT_MS } = {}) {
  const api = loadApi();
  const executions = wrapService(api.ExecutionService, target, credentials, timeoutMs);
  const events = wrapService(api.EventService, target, credentials, timeoutMs);
  const metrics = wrapService(api.MetricService, target, credentials, timeoutMs);
  return {
    executions,
    events,
    metrics,
    close() {
      for (const service of [executions, events, metrics]) {
        service.raw.close();
      }
    },
  };
}

module.exports = {
  connect,
  loadApi,
  decodeStatusDetails,
  StatehouseError,
  toStruct,
  fromStruct,
  grpc,
};
