// Typed errors: every failed call, stream or batch item becomes a
// StatehouseError carrying the gRPC code and the google.rpc details the server
// attached (ErrorInfo reason, domain and metadata; BadRequest field
// violations; PreconditionFailure violations). Transport-agnostic: the same
// over gRPC (Node) and Connect (browsers).
//
//   Error
//   └── StatehouseError   code, codeName, reason, domain, metadata,
//                         fieldViolations, preconditionFailures, details
import { BinaryReader } from "@bufbuild/protobuf/wire";
import { Code, ConnectError } from "@connectrpc/connect";
/** gRPC's names of the status codes, by number ("FAILED_PRECONDITION" is 9). */
export const CODE_NAMES = [
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
];
/** The string fields of a small message, by field number; `each` sees every other field. */
function readFields(bytes, each) {
    const reader = new BinaryReader(bytes);
    const strings = new Map();
    while (reader.pos < reader.len) {
        const [field, wireType] = reader.tag();
        if (each && each(field, reader, wireType))
            continue;
        if (wireType === 2)
            strings.set(field, reader.string());
        else
            reader.skip(wireType);
    }
    return strings;
}
/** The nested messages of field `number` of `bytes`, in order. */
function nested(bytes, number) {
    const found = [];
    readFields(bytes, (field, reader, wireType) => {
        if (field !== number || wireType !== 2)
            return false;
        found.push(reader.bytes());
        return true;
    });
    return found;
}
/** Decodes the details Statehouse sends; any other detail is kept as bytes. */
export function decodeDetail(detail) {
    const type = detail.type.slice(detail.type.lastIndexOf("/") + 1);
    try {
        if (type === "google.rpc.ErrorInfo") {
            const fields = readFields(detail.value, (field, reader, wireType) => {
                if (field !== 3)
                    return false;
                reader.skip(wireType);
                return true;
            });
            const metadata = {};
            for (const entry of nested(detail.value, 3)) {
                const kv = readFields(entry);
                metadata[kv.get(1) ?? ""] = kv.get(2) ?? "";
            }
            return { type, reason: fields.get(1) ?? "", domain: fields.get(2) ?? "", metadata };
        }
        if (type === "google.rpc.BadRequest") {
            const fieldViolations = nested(detail.value, 1).map((bytes) => {
                const f = readFields(bytes);
                return { field: f.get(1) ?? "", description: f.get(2) ?? "", reason: f.get(3) ?? "" };
            });
            return { type, fieldViolations };
        }
        if (type === "google.rpc.PreconditionFailure") {
            const violations = nested(detail.value, 1).map((bytes) => {
                const f = readFields(bytes);
                return { type: f.get(1) ?? "", subject: f.get(2) ?? "", description: f.get(3) ?? "" };
            });
            return { type, violations };
        }
    }
    catch {
        // Not what its type says: kept as bytes below.
    }
    return { type, value: detail.value };
}
/** Whether the error comes from the connection (a Node system or TLS error in its causes), not from a server. */
function connectionFailed(error) {
    if (error.code === Code.Canceled || error.code === Code.DeadlineExceeded)
        return false;
    const seen = new Set();
    for (let reason = error.cause; reason instanceof Error && !seen.has(reason); reason = reason.cause) {
        seen.add(reason);
        if (typeof reason.code === "string")
            return true;
    }
    return false;
}
/** A failed Statehouse call: the gRPC status and its google.rpc details. */
export class StatehouseError extends Error {
    /** The numeric code, gRPC's and Connect's alike (Code.FailedPrecondition is 9). */
    code;
    /** The code as gRPC spells it ("FAILED_PRECONDITION"). */
    codeName;
    /** Every decoded detail, in the order the server sent them. */
    details;
    /** ErrorInfo.reason ("INVALID_TRANSITION"), or "" without an ErrorInfo. */
    reason;
    /** ErrorInfo.domain ("statehouse"). */
    domain;
    /** ErrorInfo.metadata (for INVALID_TRANSITION: current_state, requested_state). */
    metadata;
    /** BadRequest's field violations. */
    fieldViolations;
    /** PreconditionFailure's violations. */
    preconditionFailures;
    /** `details` as decoded (decodeDetail turns a transport's bytes into them). */
    constructor(code, message, details = [], options) {
        super(message, options);
        this.name = "StatehouseError";
        this.code = code;
        this.codeName = CODE_NAMES[code] ?? `CODE_${code}`;
        this.details = details;
        const info = this.details.find((d) => d.type === "google.rpc.ErrorInfo");
        this.reason = info?.reason ?? "";
        this.domain = info?.domain ?? "";
        this.metadata = info?.metadata ?? {};
        const bad = this.details.find((d) => d.type === "google.rpc.BadRequest");
        this.fieldViolations = bad?.fieldViolations ?? [];
        const failed = this.details.find((d) => d.type === "google.rpc.PreconditionFailure");
        this.preconditionFailures = failed?.violations ?? [];
    }
    /** Whether trying again may succeed: UNAVAILABLE (the server restarting, the network). */
    get temporary() {
        return this.code === Code.Unavailable;
    }
    /**
     * Any error of a call as a StatehouseError (a StatehouseError is returned as
     * it is). A connection that failed (refused, reset, a TLS handshake that
     * failed) is UNAVAILABLE, as gRPC's own clients report it, whatever code
     * the transport chose: the call may be tried again.
     */
    static from(error) {
        if (error instanceof StatehouseError)
            return error;
        const connect = ConnectError.from(error);
        if (connectionFailed(connect)) {
            return new StatehouseError(Code.Unavailable, connect.rawMessage, [], { cause: connect });
        }
        const details = [];
        for (const detail of connect.details) {
            if ("value" in detail && "type" in detail && detail.value instanceof Uint8Array) {
                details.push(decodeDetail({ type: String(detail.type), value: detail.value }));
            }
        }
        return new StatehouseError(connect.code, connect.rawMessage, details, { cause: connect });
    }
    /**
     * The error of one failed item of a batch (TransitionTaskRuns, Heartbeat):
     * its ItemStatus, the fields of a google.rpc.Status.
     */
    static fromItemStatus(item) {
        const details = item.details.map((any) => decodeDetail({ type: any.typeUrl, value: any.value }));
        return new StatehouseError(item.code, item.message, details);
    }
}
