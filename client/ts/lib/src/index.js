// statehouse-client/core: the transport-agnostic layer, for any Connect-ES
// transport (the web console builds on it), and the generated types of
// statehouse.v1. "statehouse-client" adds connect() over gRPC for Node;
// "statehouse-client/web" adds connectWeb() over Connect for browsers.
export { createStatehouse, DEFAULT_TIMEOUT_MS, Stream, } from "./client.js";
export { refusal } from "./check.js";
export { CODE_NAMES, decodeDetail, StatehouseError, } from "./errors.js";
export { allowsRetry, backoffMs, DEFAULT_RETRY, DEFAULT_STREAM_RETRY, isIdempotent, isTransient, NO_RETRY, newRequestId, withRequestId, } from "./retry.js";
export { MAX_EVENTS_PER_MESSAGE, START_SEQUENCE_HEADER, Subscription, SubscriptionCursor, } from "./subscription.js";
export { Code } from "@connectrpc/connect";
export * from "../gen/statehouse/v1/admin_service_pb.js";
export * from "../gen/statehouse/v1/event_pb.js";
export * from "../gen/statehouse/v1/event_service_pb.js";
export * from "../gen/statehouse/v1/execution_pb.js";
export * from "../gen/statehouse/v1/execution_service_pb.js";
export * from "../gen/statehouse/v1/metric_pb.js";
export * from "../gen/statehouse/v1/metric_service_pb.js";
export * from "../gen/statehouse/v1/state_pb.js";
