/**
 * The one place where failures become gRPC statuses. Store refusals keep their message (it never
 * contains session ids or data) and carry their stable reason in the `stateward-reason` trailer;
 * anything else is a bug or an environment failure and answers INTERNAL without details.
 */
import { Metadata, status, type StatusObject } from "@grpc/grpc-js";
import type { Logger } from "../logger";
import { StoreError, type StoreErrorKind } from "../store/store-error";

/** Trailer carrying {@link StoreError.reason}, so clients can branch without parsing messages. */
export const REASON_TRAILER = "stateward-reason";

/** Message of every INTERNAL answer; the cause goes to the log only. */
export const INTERNAL_MESSAGE = "internal error";

/** The gRPC status code of each store failure kind. */
export function statusCodeOf(kind: StoreErrorKind): status {
  switch (kind) {
    case "invalid-argument":
      return status.INVALID_ARGUMENT;
    case "conflict":
      return status.ABORTED;
    case "resource-exhausted":
      return status.RESOURCE_EXHAUSTED;
    case "unavailable":
      return status.UNAVAILABLE;
    default: {
      // Compile-time check that every kind is mapped.
      const unmapped: never = kind;
      throw new Error(`unmapped store error kind ${String(unmapped)}`);
    }
  }
}

/** A failure as the caller sees it: status code, message and stable reason ("" when none). */
export interface Failure {
  readonly code: status;
  readonly message: string;
  readonly reason: string;
}

/**
 * Turns anything a handler caught into the failure to answer with. Unknown failures are logged at
 * error level with their cause and answered INTERNAL with a generic message, so no internal detail
 * reaches the caller.
 */
export function describeFailure(error: unknown, logger: Logger): Failure {
  if (error instanceof StoreError) {
    return { code: statusCodeOf(error.kind), message: error.message, reason: error.reason };
  }
  logger.error({ err: error }, "internal error while handling a call");
  return { code: status.INTERNAL, message: INTERNAL_MESSAGE, reason: "" };
}

/** {@link describeFailure} as a unary status (the reason travels in the `stateward-reason` trailer). */
export function toGrpcStatus(error: unknown, logger: Logger): Partial<StatusObject> {
  const failure = describeFailure(error, logger);
  if (failure.reason === "") return { code: failure.code, details: failure.message };
  const metadata = new Metadata();
  metadata.set(REASON_TRAILER, failure.reason);
  return { code: failure.code, details: failure.message, metadata };
}
