/**
 * Telemetry around the unary SessionState handlers: a span and metric records per call, without
 * touching the handlers themselves. Only applied when tracing or metrics are configured, so the
 * default server runs the bare handlers.
 */
import { ROOT_CONTEXT, type TextMapGetter } from "@opentelemetry/api";
import { status, type Metadata, type handleUnaryCall, type sendUnaryData } from "@grpc/grpc-js";
import { Outcome } from "@stateward/client";
import type { OperationTelemetry, OperationResult } from "../telemetry/operation-telemetry";
import type { OperationMethod } from "../telemetry/telemetry-names";
import type { SessionStateHandlers } from "./session-state-service";
import { REASON_TRAILER } from "./status-mapping";

/** Reads trace context headers (`traceparent`, ...) from gRPC request metadata. */
export const METADATA_GETTER: TextMapGetter<Metadata> = {
  get(carrier, key) {
    const values = carrier.get(key);
    if (values.length === 0) return undefined;
    return values.length === 1 ? String(values[0]) : values.map(String);
  },
  keys(carrier) {
    return Object.keys(carrier.getMap());
  },
};

/** The `stateward.outcome` of a Get or Lock answer. */
export function outcomeName(outcome: Outcome): string {
  switch (outcome) {
    case Outcome.OUTCOME_OK:
      return "ok";
    case Outcome.OUTCOME_NOT_FOUND:
      return "not_found";
    case Outcome.OUTCOME_LOCKED:
      return "locked";
    default:
      return "unspecified";
  }
}

interface Keyed {
  readonly app: string;
  readonly sessionId: string;
}

/** What a response says, for telemetry: outcome and returned payload size. */
type Describe<Res> = (response: Res) => { readonly outcome: string; readonly bytes: number };

interface FailureLike {
  readonly code?: number;
  readonly metadata?: Metadata;
}

function failureResult(error: FailureLike, waited: boolean): OperationResult {
  const reason = error.metadata?.get(REASON_TRAILER)[0];
  return {
    code: error.code ?? status.UNKNOWN,
    outcome: "error",
    reason: reason === undefined ? "" : String(reason),
    responseBytes: 0,
    waited,
  };
}

const CANCELLED: OperationResult = Object.freeze({ code: status.CANCELLED, outcome: "cancelled", reason: "", responseBytes: 0, waited: true });

function wrap<Req extends Keyed, Res>(
  telemetry: OperationTelemetry,
  method: OperationMethod,
  handler: handleUnaryCall<Req, Res>,
  describe: Describe<Res>,
  requestBytes: (request: Req) => number,
): handleUnaryCall<Req, Res> {
  return (call, callback) => {
    const parent = telemetry.tracing ? telemetry.extract(call.metadata, METADATA_GETTER) : ROOT_CONTEXT;
    const request = call.request;
    const operation = telemetry.start(method, "unary", parent, request.app, request.sessionId, requestBytes(request));
    // An answer given after the handler returned means the call was queued for a lock.
    let returned = false;
    let answered = false;
    const answer: sendUnaryData<Res> = (error, value, trailer, flags) => {
      answered = true;
      if (error !== null && error !== undefined) {
        operation.end(failureResult(error as FailureLike, returned));
      } else if (value !== null && value !== undefined) {
        const { outcome, bytes } = describe(value);
        operation.end({ code: status.OK, outcome, reason: "", responseBytes: bytes, waited: returned });
      }
      callback(error, value, trailer, flags);
    };
    handler(call, answer);
    returned = true;
    // A queued call whose caller goes away is never answered: end its span as cancelled.
    if (!answered) call.once("cancelled", () => operation.end(CANCELLED));
  };
}

const noBytes = (): number => 0;

/**
 * Returns `service` with its six unary handlers wrapped in telemetry (Pipeline is instrumented per
 * operation inside its own handler).
 */
export function instrumentUnaryHandlers(service: SessionStateHandlers, telemetry: OperationTelemetry): SessionStateHandlers {
  return {
    ...service,
    get: wrap(telemetry, "Get", service.get, (r) => ({ outcome: outcomeName(r.outcome), bytes: r.data.length }), noBytes),
    lock: wrap(telemetry, "Lock", service.lock, (r) => ({ outcome: outcomeName(r.outcome), bytes: r.data.length }), noBytes),
    set: wrap(telemetry, "Set", service.set, (r) => ({ outcome: r.written ? "written" : "not_written", bytes: 0 }), (q) => q.data.length),
    release: wrap(telemetry, "Release", service.release, (r) => ({ outcome: r.released ? "released" : "not_released", bytes: 0 }), noBytes),
    expire: wrap(telemetry, "Expire", service.expire, (r) => ({ outcome: r.found ? "found" : "not_found", bytes: 0 }), noBytes),
    remove: wrap(telemetry, "Remove", service.remove, (r) => ({ outcome: r.removed ? "removed" : "not_found", bytes: 0 }), noBytes),
  };
}
