import type { DescMessage } from "@bufbuild/protobuf";
import { type FieldViolation, StatehouseError } from "./errors.js";
/** Appends the violations of `value` as a `desc` message, its fields named with `prefix`. */
export declare function checkMessage(desc: DescMessage, value: unknown, prefix: string, out: FieldViolation[]): void;
/**
 * The INVALID_ARGUMENT error (reason MALFORMED_REQUEST, a field violation for
 * each) a request is refused with before it is sent, or null when it may go.
 */
export declare function refusal(desc: DescMessage, request: unknown): StatehouseError | null;
