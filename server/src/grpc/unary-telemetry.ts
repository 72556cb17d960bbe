/**
 * Telemetry of the unary SessionState calls: a span and metric records per call, reported by the
 * handlers through {@link UnaryObserver}. Whether a call waited is what the store said (its
 * completion's `waiting`), never guessed from timing: an asynchronous backend answers every call
 * after the handler returns. Only used when tracing or metrics are configured.
 */
import { ROOT_CONTEXT, type TextMapGetter } from "@opentelemetry/api";
import { status, type Metadata } from "@grpc/grpc-js";
import type { OperationResult, OperationTelemetry } from "../telemetry/operation-telemetry";
import type { UnaryObservation, UnaryObserver } from "./session-state-service";

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

const CANCELLED: OperationResult = Object.freeze({ code: status.CANCELLED, outcome: "cancelled", reason: "", responseBytes: 0, waited: true });

/** A {@link UnaryObserver} that reports every call to `telemetry`. */
export function unaryTelemetryObserver(telemetry: OperationTelemetry): UnaryObserver {
  return {
    start(method, call, requestBytes): UnaryObservation {
      const parent = telemetry.tracing ? telemetry.extract(call.metadata, METADATA_GETTER) : ROOT_CONTEXT;
      const request = call.request;
      const operation = telemetry.start(method, "unary", parent, request.app, request.sessionId, requestBytes);
      let waited = false;
      return {
        waiting: () => {
          waited = true;
        },
        answered: (outcome, responseBytes) => operation.end({ code: status.OK, outcome, reason: "", responseBytes, waited }),
        failed: (failure) => operation.end({ code: failure.code, outcome: "error", reason: failure.reason, responseBytes: 0, waited }),
        cancelled: () => operation.end(CANCELLED),
      };
    },
  };
}
