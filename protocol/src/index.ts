/**
 * `@stateward/protocol`: the Stateward wire contract for TypeScript, shared by the SDK
 * (`@stateward/client`), the server and the tools.
 *
 * - the generated `stateward.v1` code (ts-proto): the messages, `Outcome`, `SessionEventKind`,
 *   `ErrorReason`, the grpc-js service definition `SessionStateService` and client class
 *   `SessionStateClient`;
 * - the contract's constants (also importable alone, without grpc-js, as
 *   `@stateward/protocol/contract`);
 * - hand-written codecs for the hot path (codec/): exact-size encoders of the responses that carry
 *   session data and of the PipelineRequest (client), a PipelineRequest decoder (server) and a
 *   PipelineResponse decoder (client) that do not copy payloads, byte for byte the generated code's
 *   output (property tests check it);
 * - the event-loop poller both ends of a Pipeline stream use to keep polling briefly around their
 *   messages instead of sleeping between them (event-loop-poller.ts);
 * - a codec for the `google.rpc.Status` that carries a refusal's `google.rpc.ErrorInfo` in the
 *   `grpc-status-details-bin` trailer.
 */
import { ErrorInfo } from "./gen/google/rpc/error_details";
import { Status } from "./gen/google/rpc/status";
import { ERROR_DOMAIN } from "./contract";
import type { ErrorReason } from "./gen/stateward/v1/errors";

export * from "./gen/stateward/v1/session_state";
export * from "./gen/stateward/v1/errors";
export * from "./contract";
export { decodePipelineRequest } from "./codec/pipeline-request-decoder";
export { decodePipelineResponse } from "./codec/pipeline-response-decoder";
export { encodeGetResponse, encodeLockResponse, encodePipelineResponse } from "./codec/response-encoders";
export { encodePipelineRequest } from "./codec/request-encoder";
export { DEFAULT_SCRATCH_BYTES, EncodeScratch } from "./codec/encode-scratch";
export { EventLoopPoller, eventLoopPoller, pollWindowProblem, type PollerHost } from "./event-loop-poller";

/**
 * The name of every reason a server may refuse with (`ErrorReason` without its zero value, and
 * without ts-proto's `UNRECOGNIZED`, which is not a value of the proto enum). These are the strings
 * of `ErrorInfo.reason` and `OperationError.reason`.
 */
export type ErrorReasonName = Exclude<keyof typeof ErrorReason, "ERROR_REASON_UNSPECIFIED" | "UNRECOGNIZED">;

/** The type URL of a `google.rpc.ErrorInfo` packed in a `google.protobuf.Any`. */
export const ERROR_INFO_TYPE_URL = "type.googleapis.com/google.rpc.ErrorInfo";

/** What a refusal's status says: the gRPC code and message, the reason and its metadata. */
export interface StatusDetailsInput {
  /** The gRPC status code. */
  readonly code: number;
  /** The status message (the same as the call's `grpc-message`). */
  readonly message: string;
  /** The stable reason: an {@link ErrorReasonName} (any string is encoded as given). */
  readonly reason: string;
  /** The ErrorInfo metadata (the field, the limit, ...); none when absent. Never a session id. */
  readonly metadata?: Readonly<Record<string, string>>;
}

/** A `google.rpc.ErrorInfo`, decoded. */
export interface DecodedErrorInfo {
  readonly reason: string;
  readonly domain: string;
  readonly metadata: Readonly<Record<string, string>>;
}

/** A `google.rpc.Status`, decoded: its code, message and ErrorInfo (when it holds one). */
export interface DecodedStatusDetails {
  readonly code: number;
  readonly message: string;
  readonly errorInfo?: DecodedErrorInfo;
}

/** A Buffer over the bytes of `bytes`, without copying them. */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * The `grpc-status-details-bin` value of a refusal: a `google.rpc.Status` whose details hold one
 * `google.rpc.ErrorInfo` with the reason, the domain {@link ERROR_DOMAIN} and the metadata.
 */
export function encodeStatusDetails(input: StatusDetailsInput): Buffer {
  const errorInfo = ErrorInfo.encode({ reason: input.reason, domain: ERROR_DOMAIN, metadata: { ...input.metadata } }).finish();
  const status = Status.encode({
    code: input.code,
    message: input.message,
    details: [{ typeUrl: ERROR_INFO_TYPE_URL, value: asBuffer(errorInfo) }],
  }).finish();
  return asBuffer(status);
}

/** True for the type URL of an ErrorInfo, whatever its host part (only the part after the last `/` names the type). */
function isErrorInfoTypeUrl(typeUrl: string): boolean {
  return typeUrl.slice(typeUrl.lastIndexOf("/") + 1) === "google.rpc.ErrorInfo";
}

/**
 * Decodes a `grpc-status-details-bin` value. Tolerant, since the trailer comes from whatever
 * answered (a proxy may send its own): `undefined` when the bytes are not a `google.rpc.Status`,
 * and no `errorInfo` when it holds none. Of several ErrorInfos, the one of {@link ERROR_DOMAIN}
 * wins, else the first.
 */
export function decodeStatusDetails(bytes: Uint8Array): DecodedStatusDetails | undefined {
  let status: Status;
  try {
    status = Status.decode(bytes);
  } catch {
    return undefined;
  }
  let chosen: DecodedErrorInfo | undefined;
  for (const detail of status.details) {
    if (!isErrorInfoTypeUrl(detail.typeUrl)) continue;
    let info: ErrorInfo;
    try {
      info = ErrorInfo.decode(detail.value);
    } catch {
      continue;
    }
    const decoded: DecodedErrorInfo = { reason: info.reason, domain: info.domain, metadata: info.metadata };
    if (info.domain === ERROR_DOMAIN) {
      chosen = decoded;
      break;
    }
    chosen ??= decoded;
  }
  return chosen === undefined ? { code: status.code, message: status.message } : { code: status.code, message: status.message, errorInfo: chosen };
}
