/**
 * Per-operation telemetry: one span and one set of metric records per session operation, unary or
 * pipelined. Transport-neutral: the gRPC layer extracts the parent context and reports the result.
 *
 * Cost model: the gRPC layer does not call in here at all when neither tracing nor metrics are
 * configured (see the unary and Pipeline observers, grpc/unary-telemetry.ts and grpc/pipeline-telemetry.ts), so "off" costs one
 * `undefined` check per operation. When tracing is on but an operation is not sampled, its span is
 * a non-recording one and no attribute is computed.
 */
import { createHmac } from "node:crypto";
import { performance } from "node:perf_hooks";
import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  isSpanContextValid,
  trace,
  type Attributes,
  type Context,
  type Span,
  type TextMapGetter,
  type TextMapPropagator,
  type Tracer,
  type TracerProvider,
} from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { KEY_LIMITS } from "@stateward/protocol/contract";
import { isVisibleAscii } from "../store/input-validation";
import { INSTRUMENTATION_SCOPE, type ServerMetrics } from "./server-metrics";
import {
  ATTR_APP,
  ATTR_ERROR_TYPE,
  ATTR_LEASE_EXPIRED,
  ATTR_LOCK_WAIT_MS,
  ATTR_OUTCOME,
  ATTR_PAYLOAD_SIZE,
  ATTR_REASON,
  ATTR_RPC_METHOD,
  ATTR_RPC_STATUS_CODE,
  ATTR_RPC_SYSTEM_NAME,
  ATTR_SESSION_HASH,
  ATTR_TRANSPORT,
  INVALID_APP,
  RPC_SYSTEM_GRPC,
  isServerError,
  rpcMethodOf,
  spanNameOf,
  statusNameOf,
  type OperationMethod,
  type Transport,
} from "./telemetry-names";

/** What the server's telemetry needs; every part optional, each absent part costs nothing. */
export interface OperationTelemetryOptions {
  /** Creates the spans; absent = no tracing. */
  readonly tracerProvider?: TracerProvider;
  /** The metric instruments; absent = no metrics. */
  readonly metrics?: ServerMetrics;
  /**
   * Reads the caller's trace context from request metadata; default W3C Trace Context
   * (`traceparent`, `tracestate`). The CLI passes the global propagator (OTEL_PROPAGATORS).
   */
  readonly propagator?: TextMapPropagator;
  /**
   * Head sampling done here instead of in the SDK, for a tracer provider whose sampler is
   * parent-based with an always-on root (as the CLI sets it up): an operation without a caller
   * context is traced with this probability, one whose caller context is not sampled is not traced,
   * and neither reaches the SDK (which would first generate ids for a span nobody records: about a
   * microsecond, as much as a pipelined operation's own work). Absent = the SDK's sampler decides.
   */
  readonly rootSampleRatio?: number;
  /** Key of the session pseudonym (HMAC-SHA256); empty or absent = no pseudonym in spans. */
  readonly sessionHashKey?: string;
  /** The server's version, as the instrumentation scope's version. */
  readonly version?: string;
}

/** How an operation ended, as reported by the transport. */
export interface OperationResult {
  /** The gRPC status code (0 = OK). */
  readonly code: number;
  /** One of the `stateward.outcome` values (see telemetry-names.ts). */
  readonly outcome: string;
  /** The stable refusal reason, "" when none. */
  readonly reason: string;
  /** Bytes of session data returned (Get, Lock); 0 otherwise. */
  readonly responseBytes: number;
  /** True when the operation was queued for a lock before it was answered. */
  readonly waited: boolean;
}

/** An operation in progress. */
export interface ActiveOperation {
  /** Ends the span and records the metrics. Call once. */
  end(result: OperationResult): void;
}

/**
 * The app name as spans carry it: as sent when it is a valid name (what the store accepts: visible
 * ASCII, at most 128 bytes), else {@link INVALID_APP}. A request that fails validation still gets
 * its span, but its bytes of any length and content do not reach the trace backend.
 */
export function appAttribute(app: string): string {
  return typeof app === "string" && app.length <= KEY_LIMITS.maxAppBytes && isVisibleAscii(app) ? app : INVALID_APP;
}

/** Per-operation telemetry over an optional tracer and optional metrics. */
export class OperationTelemetry {
  private readonly tracer: Tracer | undefined;
  private readonly metrics: ServerMetrics | undefined;
  private readonly propagator: TextMapPropagator;
  private readonly hashKey: string;
  private readonly rootSampleRatio: number | undefined;

  constructor(options: OperationTelemetryOptions) {
    this.tracer = options.tracerProvider?.getTracer(INSTRUMENTATION_SCOPE, options.version);
    this.metrics = options.metrics;
    this.propagator = options.propagator ?? new W3CTraceContextPropagator();
    this.hashKey = options.sessionHashKey ?? "";
    this.rootSampleRatio = options.rootSampleRatio;
  }

  /** True when at least one of tracing and metrics is configured. */
  get enabled(): boolean {
    return this.tracer !== undefined || this.metrics !== undefined;
  }

  /** True when spans are created (so callers know whether a parent context is worth extracting). */
  get tracing(): boolean {
    return this.tracer !== undefined;
  }

  /** The caller's trace context from a carrier (request metadata, a pipelined operation's fields). */
  extract<C>(carrier: C, getter: TextMapGetter<C>): Context {
    return this.propagator.extract(ROOT_CONTEXT, carrier, getter);
  }

  /**
   * Starts an operation.
   * @param method - the operation.
   * @param transport - how it arrived.
   * @param parent - the caller's context (ROOT_CONTEXT when none).
   * @param app - the application name (goes into the span if valid, see {@link appAttribute}).
   * @param sessionId - only ever hashed with the configured key, never recorded as such.
   * @param requestBytes - bytes of session data the request carries (Set), else 0.
   */
  start(method: OperationMethod, transport: Transport, parent: Context, app: string, sessionId: string, requestBytes: number): ActiveOperation {
    let span: Span | undefined;
    const tracer = this.tracer;
    if (tracer !== undefined && this.sampled(parent)) {
      const attributes: Attributes = {
        [ATTR_RPC_SYSTEM_NAME]: RPC_SYSTEM_GRPC,
        [ATTR_RPC_METHOD]: rpcMethodOf(method),
        [ATTR_TRANSPORT]: transport,
        [ATTR_APP]: appAttribute(app),
      };
      if (method === "Set") attributes[ATTR_PAYLOAD_SIZE] = requestBytes;
      span = tracer.startSpan(spanNameOf(method), { kind: SpanKind.SERVER, attributes }, parent);
      if (!span.isRecording()) span = undefined;
      else if (this.hashKey !== "") span.setAttribute(ATTR_SESSION_HASH, sessionHash(this.hashKey, app, sessionId));
    }
    // Nothing to record (not sampled, no metrics): one shared object, nothing allocated per operation.
    if (span === undefined && this.metrics === undefined) return UNOBSERVED_OPERATION;
    return new Operation(this, method, transport, span, performance.now());
  }

  /** The head-sampling decision of {@link OperationTelemetryOptions.rootSampleRatio}. */
  private sampled(parent: Context): boolean {
    const ratio = this.rootSampleRatio;
    if (ratio === undefined) return true;
    const caller = trace.getSpanContext(parent);
    if (caller === undefined || !isSpanContextValid(caller)) return ratio >= 1 || Math.random() < ratio;
    return (caller.traceFlags & TraceFlags.SAMPLED) !== 0;
  }

  /** @internal Records the end of an operation (called by {@link Operation.end}). */
  finish(method: OperationMethod, transport: Transport, span: Span | undefined, startedAt: number, result: OperationResult): void {
    const elapsedMs = performance.now() - startedAt;
    if (span !== undefined) {
      // One setAttributes call: the SDK checks the span's state and limits once, not per attribute.
      const attributes: Attributes = { [ATTR_RPC_STATUS_CODE]: statusNameOf(result.code), [ATTR_OUTCOME]: result.outcome };
      // Only Get and Lock can wait for a lock or return data.
      if (method === "Get" || method === "Lock") {
        attributes[ATTR_LOCK_WAIT_MS] = result.waited ? elapsedMs : 0;
        attributes[ATTR_PAYLOAD_SIZE] = result.responseBytes;
      }
      if (result.reason !== "") attributes[ATTR_REASON] = result.reason;
      if (method === "Set" || method === "Remove") attributes[ATTR_LEASE_EXPIRED] = result.reason === "LEASE_EXPIRED";
      const serverError = isServerError(result.code);
      if (serverError) attributes[ATTR_ERROR_TYPE] = statusNameOf(result.code);
      span.setAttributes(attributes);
      if (serverError) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    }
    const metrics = this.metrics;
    if (metrics !== undefined) {
      metrics.calls.record(method, transport, result.code, result.outcome, elapsedMs / 1000, result.waited);
      if (result.reason !== "") metrics.recordRejection(result.reason);
    }
  }
}

/**
 * What {@link OperationTelemetry.start} returns for an operation with nothing to record (not
 * sampled, and no metrics): its `end` does nothing. Transports compare against it to skip their own
 * per-operation work too.
 */
export const UNOBSERVED_OPERATION: ActiveOperation = Object.freeze({ end: () => undefined });

class Operation implements ActiveOperation {
  private ended = false;

  constructor(
    private readonly owner: OperationTelemetry,
    private readonly method: OperationMethod,
    private readonly transport: Transport,
    private readonly span: Span | undefined,
    private readonly startedAt: number,
  ) {}

  end(result: OperationResult): void {
    if (this.ended) return;
    this.ended = true;
    this.owner.finish(this.method, this.transport, this.span, this.startedAt, result);
  }
}

/**
 * The session's pseudonym: HMAC-SHA256 over (app, NUL, session id) with the configured key,
 * truncated to 128 bits (hex). Stable across servers sharing the key, useless without it.
 */
export function sessionHash(key: string, app: string, sessionId: string): string {
  return createHmac("sha256", key).update(app).update("\0").update(sessionId).digest("hex").slice(0, 32);
}
