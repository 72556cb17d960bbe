/**
 * Reads a refusal's reason out of a failed call's trailers: the `google.rpc.ErrorInfo` in
 * `grpc-status-details-bin` first, else the bare `stateward-reason` that servers before the
 * ErrorInfo send. Shared by the unary errors (errors.ts) and the pipeline's refused streams, so
 * that both transports report the same reason for the same status.
 */
import type { Metadata } from "@grpc/grpc-js";
import { LEGACY_REASON_TRAILER, STATUS_DETAILS_TRAILER, decodeStatusDetails } from "@stateward/protocol";

/** A refusal's reason ("" when none) and the facts that go with it. */
export interface TrailerReason {
  readonly reason: string;
  readonly metadata: Readonly<Record<string, string>>;
}

const NO_METADATA: Readonly<Record<string, string>> = Object.freeze({});

/** No reason. */
export const NO_REASON: TrailerReason = Object.freeze({ reason: "", metadata: NO_METADATA });

/**
 * The reason in `trailers`. A details trailer that does not decode or holds no reason (a proxy's,
 * say) falls back to the legacy trailer too, rather than hiding a reason that is there.
 */
export function reasonFromTrailers(trailers: Metadata | undefined): TrailerReason {
  const details = trailers?.get(STATUS_DETAILS_TRAILER)[0];
  if (details instanceof Uint8Array) {
    const info = decodeStatusDetails(details)?.errorInfo;
    if (info !== undefined && info.reason !== "") return { reason: info.reason, metadata: info.metadata };
  }
  const legacy = trailers?.get(LEGACY_REASON_TRAILER)[0];
  return legacy === undefined ? NO_REASON : { reason: String(legacy), metadata: NO_METADATA };
}
