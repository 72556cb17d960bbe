/**
 * Telemetry of pipelined operations: each operation of a batch gets its own span, named like its
 * unary twin's and parented on the trace context the client put on that operation (a stream
 * carries operations of many traces, so the stream's metadata cannot say which one each is in).
 */
import { ROOT_CONTEXT, type TextMapGetter } from "@opentelemetry/api";
import { status } from "@grpc/grpc-js";
import type { PipelineOperation, PipelineResult } from "@stateward/protocol";
import { UNOBSERVED_OPERATION, type OperationResult, type OperationTelemetry } from "../telemetry/operation-telemetry";
import type { OperationMethod } from "../telemetry/telemetry-names";
import { outcomeName } from "./session-state-service";
import type { OperationFinisher, PipelineObserver } from "./pipeline-service";

/** Reads `traceparent` / `tracestate` from a pipelined operation's own fields. */
const OPERATION_GETTER: TextMapGetter<PipelineOperation> = {
  get(carrier, key) {
    if (key === "traceparent") return carrier.traceparent;
    if (key === "tracestate") return carrier.tracestate;
    return undefined;
  },
  keys(carrier) {
    const keys: string[] = [];
    if (carrier.traceparent !== undefined) keys.push("traceparent");
    if (carrier.tracestate !== undefined) keys.push("tracestate");
    return keys;
  },
};

const METHODS: Readonly<Record<NonNullable<PipelineOperation["request"]>["$case"], OperationMethod>> = {
  get: "Get",
  lock: "Lock",
  set: "Set",
  release: "Release",
  expire: "Expire",
  remove: "Remove",
};

const CANCELLED: OperationResult = Object.freeze({ code: status.CANCELLED, outcome: "cancelled", reason: "", responseBytes: 0, waited: true });
const NOT_OBSERVED: OperationFinisher = () => undefined;

function resultOf(result: NonNullable<PipelineResult["result"]>, waited: boolean): OperationResult {
  const ok = (outcome: string, responseBytes = 0): OperationResult => ({ code: status.OK, outcome, reason: "", responseBytes, waited });
  switch (result.$case) {
    case "get":
    case "lock":
      return ok(outcomeName(result.value.outcome), result.value.data.length);
    case "set":
      return ok(result.value.written ? "written" : "not_written");
    case "release":
      return ok(result.value.released ? "released" : "not_released");
    case "expire":
      return ok(result.value.found ? "found" : "not_found");
    case "remove":
      return ok(result.value.removed ? "removed" : "not_found");
    case "error":
      return { code: result.value.code, outcome: "error", reason: result.value.reason, responseBytes: 0, waited };
  }
}

/** A {@link PipelineObserver} that reports every operation to `telemetry`. */
export function pipelineTelemetryObserver(telemetry: OperationTelemetry): PipelineObserver {
  return {
    start(operation) {
      const request = operation.request;
      // Malformed operations (no request) are answered INVALID_ARGUMENT without an operation span.
      if (request === undefined) return NOT_OBSERVED;
      const parent =
        telemetry.tracing && operation.traceparent !== undefined ? telemetry.extract(operation, OPERATION_GETTER) : ROOT_CONTEXT;
      const value = request.value;
      const bytes = request.$case === "set" ? request.value.data.length : 0;
      const active = telemetry.start(METHODS[request.$case], "pipeline", parent, value.app, value.sessionId, bytes);
      if (active === UNOBSERVED_OPERATION) return NOT_OBSERVED;
      return (result, waited) => active.end(result === undefined ? CANCELLED : resultOf(result, waited));
    },
  };
}
