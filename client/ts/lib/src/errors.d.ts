import { Code } from "@connectrpc/connect";
/** gRPC's names of the status codes, by number ("FAILED_PRECONDITION" is 9). */
export declare const CODE_NAMES: readonly string[];
/** One field a request got wrong (google.rpc.BadRequest.FieldViolation). */
export interface FieldViolation {
    field: string;
    description: string;
    reason: string;
}
/** One precondition that failed (google.rpc.PreconditionFailure.Violation). */
export interface PreconditionViolation {
    type: string;
    subject: string;
    description: string;
}
/** A decoded detail: its type name and fields. */
export type ErrorDetail = {
    type: "google.rpc.ErrorInfo";
    reason: string;
    domain: string;
    metadata: Record<string, string>;
} | {
    type: "google.rpc.BadRequest";
    fieldViolations: FieldViolation[];
} | {
    type: "google.rpc.PreconditionFailure";
    violations: PreconditionViolation[];
} | {
    type: string;
    value: Uint8Array;
};
/** A detail as a transport hands it over: its type name and its bytes. */
export interface RawDetail {
    type: string;
    value: Uint8Array;
}
/** Decodes the details Statehouse sends; any other detail is kept as bytes. */
export declare function decodeDetail(detail: RawDetail): ErrorDetail;
/** A failed Statehouse call: the gRPC status and its google.rpc details. */
export declare class StatehouseError extends Error {
    /** The numeric code, gRPC's and Connect's alike (Code.FailedPrecondition is 9). */
    readonly code: Code;
    /** The code as gRPC spells it ("FAILED_PRECONDITION"). */
    readonly codeName: string;
    /** Every decoded detail, in the order the server sent them. */
    readonly details: ErrorDetail[];
    /** ErrorInfo.reason ("INVALID_TRANSITION"), or "" without an ErrorInfo. */
    readonly reason: string;
    /** ErrorInfo.domain ("statehouse"). */
    readonly domain: string;
    /** ErrorInfo.metadata (for INVALID_TRANSITION: current_state, requested_state). */
    readonly metadata: Record<string, string>;
    /** BadRequest's field violations. */
    readonly fieldViolations: FieldViolation[];
    /** PreconditionFailure's violations. */
    readonly preconditionFailures: PreconditionViolation[];
    /** `details` as decoded (decodeDetail turns a transport's bytes into them). */
    constructor(code: Code, message: string, details?: ErrorDetail[], options?: {
        cause?: unknown;
    });
    /** Whether trying again may succeed: UNAVAILABLE (the server restarting, the network). */
    get temporary(): boolean;
    /**
     * Any error of a call as a StatehouseError (a StatehouseError is returned as
     * it is). A connection that failed (refused, reset, a TLS handshake that
     * failed) is UNAVAILABLE, as gRPC's own clients report it, whatever code
     * the transport chose: the call may be tried again.
     */
    static from(error: unknown): StatehouseError;
    /**
     * The error of one failed item of a batch (TransitionTaskRuns, Heartbeat):
     * its ItemStatus, the fields of a google.rpc.Status.
     */
    static fromItemStatus(item: {
        code: number;
        message: string;
        details: {
            typeUrl: string;
            value: Uint8Array;
        }[];
    }): StatehouseError;
}
