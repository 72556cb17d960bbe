/**
 * The one place where failures become gRPC statuses, for the unary calls, the Pipeline's
 * OperationErrors and the streams' ends alike.
 *
 * A refusal is answered the gRPC way (AIP-193, the richer error model): its status carries a
 * `google.rpc.Status` with one `google.rpc.ErrorInfo` (reason, domain `stateward.v1`, metadata such
 * as the field or the limit) in the standard `grpc-status-details-bin` trailer. The reason also
 * goes in the `stateward-reason` trailer, which SDKs before the ErrorInfo read: it costs one short
 * trailer on refusals only, and lets old clients keep branching on reasons during an upgrade.
 * Store refusals keep their message (it never contains session ids or data); anything that is not
 * a refusal is a bug or an environment failure, logged with its cause and answered INTERNAL
 * without details.
 */
import { Metadata, status, type StatusObject } from "@grpc/grpc-js";
import {
  LEGACY_REASON_TRAILER,
  STATUS_DETAILS_TRAILER,
  encodeStatusDetails,
  type ErrorReasonName,
  type OperationError,
} from "@stateward/protocol";
import type { Logger } from "../logger";
import { StoreError, type StoreErrorKind, type StoreErrorReason } from "../store/store-error";

/** Message of every INTERNAL answer; the cause goes to the log only. */
export const INTERNAL_MESSAGE = "internal error";

/** A reason of the contract (`stateward.v1.ErrorReason`), by name. */
export type ReasonName = ErrorReasonName;

// Compile-time check: every reason the store refuses with is one of the contract's.
const storeReasonsAreContractReasons = (reason: StoreErrorReason): ReasonName => reason;
void storeReasonsAreContractReasons;

/** The gRPC status code of each store failure kind. */
export function statusCodeOf(kind: StoreErrorKind): status {
  switch (kind) {
    case "invalid-argument":
      return status.INVALID_ARGUMENT;
    case "conflict":
      return status.ABORTED;
    case "resource-exhausted":
      return status.RESOURCE_EXHAUSTED;
    case "deadline-exceeded":
      return status.DEADLINE_EXCEEDED;
    case "unavailable":
      return status.UNAVAILABLE;
    default: {
      // Compile-time check that every kind is mapped.
      const unmapped: never = kind;
      throw new Error(`unmapped store error kind ${String(unmapped)}`);
    }
  }
}

/** A failure as the caller sees it: status code, message, stable reason ("" when none) and metadata. */
export interface Failure {
  readonly code: status;
  readonly message: string;
  readonly reason: ReasonName | "";
  readonly metadata: Readonly<Record<string, string>>;
}

const NO_METADATA: Readonly<Record<string, string>> = Object.freeze({});

/** A refusal made by the transport layer itself (pipeline limits, slow consumers, cancellations). */
export function refusal(code: status, reason: ReasonName, message: string, metadata: Readonly<Record<string, string>> = NO_METADATA): Failure {
  return { code, message, reason, metadata };
}

/** Every INTERNAL answer: no detail reaches the caller. */
const INTERNAL: Failure = Object.freeze({ code: status.INTERNAL, message: INTERNAL_MESSAGE, reason: "", metadata: NO_METADATA });

/**
 * Turns anything a backend rejected with, or a handler caught, into the failure to answer with.
 * Unknown failures are logged at error level with their cause and answered INTERNAL with a generic
 * message, so no internal detail reaches the caller.
 */
export function describeFailure(error: unknown, logger: Logger): Failure {
  if (error instanceof StoreError) {
    return { code: statusCodeOf(error.kind), message: error.message, reason: error.reason, metadata: error.metadata };
  }
  logger.error({ err: error }, "internal error while handling a call");
  return INTERNAL;
}

/** A failure as a gRPC status: the ErrorInfo in `grpc-status-details-bin`, the reason in `stateward-reason`. */
export function toStatus(failure: Failure): Partial<StatusObject> {
  if (failure.reason === "") return { code: failure.code, details: failure.message };
  const metadata = new Metadata();
  metadata.set(
    STATUS_DETAILS_TRAILER,
    encodeStatusDetails({ code: failure.code, message: failure.message, reason: failure.reason, metadata: failure.metadata }),
  );
  metadata.set(LEGACY_REASON_TRAILER, failure.reason);
  return { code: failure.code, details: failure.message, metadata };
}

/** {@link describeFailure} as a unary status. */
export function toGrpcStatus(error: unknown, logger: Logger): Partial<StatusObject> {
  return toStatus(describeFailure(error, logger));
}

/**
 * The completion of an operation nobody waits for (the release of a lock granted to a caller that
 * left): refusals (shutdown) change nothing worth reporting; anything else is logged.
 */
export function unattendedCompletion(logger: Logger): { resolve(): void; reject(error: unknown): void } {
  return {
    resolve: () => undefined,
    reject: (error) => void describeFailure(error, logger),
  };
}

/** A failure as a Pipeline OperationError (the same code, message, reason and metadata as unary). */
export function toOperationError(failure: Failure): OperationError {
  return { code: failure.code, message: failure.message, reason: failure.reason, metadata: failure.metadata as { [key: string]: string } };
}

/** The reason of a status built by {@link toStatus}, for telemetry ("" when none). */
export function reasonOfStatus(metadata: Metadata | undefined): string {
  const value = metadata?.get(LEGACY_REASON_TRAILER)[0];
  return value === undefined ? "" : String(value);
}
