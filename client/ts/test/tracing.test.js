// The trace context of the caller, sent with each call (W3C traceparent), when
// the application has @opentelemetry/api; nothing without it.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as api from '@opentelemetry/api';
import { traceInterceptor } from '../lib/src/node.js';

/** A context manager that holds the context `with()` was given (the app's SDK would). */
class SyncContextManager {
  constructor() {
    this.current = api.ROOT_CONTEXT;
  }
  active() {
    return this.current;
  }
  with(context, fn, thisArg, ...args) {
    const previous = this.current;
    this.current = context;
    try {
      return fn.call(thisArg, ...args);
    } finally {
      this.current = previous;
    }
  }
  bind(_context, target) {
    return target;
  }
  enable() {
    return this;
  }
  disable() {
    return this;
  }
}

/** W3C trace context's inject, as @opentelemetry/core's propagator writes it. */
const traceparent = {
  inject(context, carrier, setter) {
    const span = api.trace.getSpanContext(context);
    const flags = span.traceFlags.toString(16).padStart(2, '0');
    setter.set(carrier, 'traceparent', `00-${span.traceId}-${span.spanId}-${flags}`);
  },
  extract: (context) => context,
  fields: () => ['traceparent'],
};

/** The headers a call started through the interceptor sends. */
function sent(interceptor) {
  const request = { header: new Headers() };
  interceptor((r) => r)(request);
  return request.header;
}

test('a call started under an active span sends its traceparent', () => {
  api.context.setGlobalContextManager(new SyncContextManager());
  api.propagation.setGlobalPropagator(traceparent);
  try {
    const interceptor = traceInterceptor();
    assert.equal(sent(interceptor).get('traceparent'), null);
    const span = {
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: 'b7ad6b7169203331',
      traceFlags: api.TraceFlags.SAMPLED,
    };
    const context = api.trace.setSpanContext(api.context.active(), span);
    const headers = api.context.with(context, () => sent(interceptor));
    assert.equal(headers.get('traceparent'), '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
  } finally {
    api.context.disable();
    api.propagation.disable();
  }
});

test('without @opentelemetry/api nothing is added', () => {
  assert.equal(traceInterceptor(null), null);
});
