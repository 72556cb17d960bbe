/** The error of a failed pipeline operation, shaped like grpc-js's `ServiceError`. */
import { Metadata, status, type ServiceError } from "@grpc/grpc-js";
import { LEGACY_REASON_TRAILER } from "@stateward/protocol";

/**
 * The trailer with the bare refusal reason (`stateward-reason`): servers send it beside the
 * `google.rpc.ErrorInfo` (in `grpc-status-details-bin`) for clients that predate the ErrorInfo, and a
 * {@link PipelineOperationError}'s `metadata` carries it too. `StatewardError` reads both.
 */
export const REASON_KEY = LEGACY_REASON_TRAILER;

/** No reason metadata (shared, frozen). */
const NO_METADATA: Readonly<Record<string, string>> = Object.freeze({});

/**
 * A failed pipeline operation. Shaped like grpc-js's `ServiceError` (code, details, metadata with
 * the `stateward-reason` entry), so code that handles unary errors by that trailer handles these too.
 */
export class PipelineOperationError extends Error implements ServiceError {
  override readonly name = "PipelineOperationError";
  /** The gRPC status code. */
  readonly code: status;
  /** The status message. */
  readonly details: string;
  /** Carries `stateward-reason` when the server gave one. */
  readonly metadata: Metadata;
  /** The server's stable reason ("" when none). */
  readonly reason: string;
  /** The facts that go with the reason (the OperationError's metadata, as a unary call's ErrorInfo's). */
  readonly reasonMetadata: Readonly<Record<string, string>>;

  constructor(code: status, details: string, reason = "", reasonMetadata: Readonly<Record<string, string>> = NO_METADATA) {
    super(`${code} ${status[code] ?? "UNKNOWN"}: ${details}`);
    this.code = code;
    this.details = details;
    this.reason = reason;
    this.reasonMetadata = reasonMetadata;
    this.metadata = new Metadata();
    if (reason !== "") this.metadata.set(REASON_KEY, reason);
  }
}
