/**
 * OpenTelemetry tracing for Stateward clients, depending only on `@opentelemetry/api` (the
 * application brings its own SDK, or none: without a registered SDK every call here is a no-op).
 *
 * - {@link createTracingInterceptor}: a grpc-js client interceptor for the unary calls. It creates
 *   a client span `stateward.v1.SessionState/<Method>` as a child of the active context (say, the
 *   web request being served) and sends that context to the server in the W3C `traceparent`
 *   metadata, so the server's span of the call is its child.
 * - {@link createPipelineTracing}: the same per operation of a {@link PipelineClient}; each
 *   operation carries its own `traceparent` in the batch, since one stream carries many traces.
 *
 * Spans follow the RPC conventions of the OpenTelemetry semantic conventions v1.45.0, as the
 * server's spans do: `rpc.system.name` (`grpc`), `rpc.method` (the fully-qualified
 * `stateward.v1.SessionState/<Method>`, also the span name), `rpc.status_code` (the status by name:
 * `OK`, `ABORTED`, ...) and, for every status but OK (all are errors for a gRPC client), `error.type`
 * (the status name) and span status ERROR. Never a session id or session data.
 */
import {
  context,
  propagation,
  trace,
  SpanKind,
  SpanStatusCode,
  type Span,
  type TextMapPropagator,
  type TextMapSetter,
  type Tracer,
  type TracerProvider,
} from "@opentelemetry/api";
import { InterceptingCall, ListenerBuilder, RequesterBuilder, status, type Interceptor, type Metadata } from "@grpc/grpc-js";
import type { PipelineOperation } from "@stateward/protocol";
import type { PipelineOperationHook } from "./pipeline-client";

/** Options of the client tracing helpers. */
export interface ClientTracingOptions {
  /** Creates the client spans; default the global provider (`trace.getTracerProvider()`). */
  readonly tracerProvider?: TracerProvider;
  /**
   * Writes the trace context into requests; default the global propagator (which the SDK sets up,
   * W3C Trace Context by default).
   */
  readonly propagator?: TextMapPropagator;
}

/** Name of the instrumentation scope of the client spans. */
export const CLIENT_INSTRUMENTATION_SCOPE = "@stateward/client";

/** The service's full name: the first part of `rpc.method` and of the span names. */
const RPC_SERVICE = "stateward.v1.SessionState";

// The attributes of the RPC semantic conventions v1.45.0 (`@opentelemetry/semantic-conventions`
// 1.45.0), the version the server follows; the client depends on `@opentelemetry/api` only.
const ATTR_RPC_SYSTEM_NAME = "rpc.system.name";
const ATTR_RPC_METHOD = "rpc.method";
const ATTR_RPC_STATUS_CODE = "rpc.status_code";
const ATTR_ERROR_TYPE = "error.type";

const METADATA_SETTER: TextMapSetter<Metadata> = {
  set(carrier, key, value) {
    carrier.set(key, value);
  },
};

interface TraceFields {
  traceparent?: string;
  tracestate?: string;
}

const OPERATION_SETTER: TextMapSetter<TraceFields> = {
  set(carrier, key, value) {
    if (key === "traceparent") carrier.traceparent = value;
    else if (key === "tracestate") carrier.tracestate = value;
  },
};

/** A gRPC status code by name (`OK`, `NOT_FOUND`, ...); a code outside the known ones keeps its number. */
function statusName(code: number): string {
  return status[code] ?? String(code);
}

function tracerOf(options: ClientTracingOptions): Tracer {
  return (options.tracerProvider ?? trace.getTracerProvider()).getTracer(CLIENT_INSTRUMENTATION_SCOPE);
}

function startClientSpan(tracer: Tracer, method: string): Span {
  const fullMethod = `${RPC_SERVICE}/${method}`;
  return tracer.startSpan(
    fullMethod,
    {
      kind: SpanKind.CLIENT,
      // rpc.system.name at creation time, so that samplers see it (the conventions ask for it).
      attributes: { [ATTR_RPC_SYSTEM_NAME]: "grpc", [ATTR_RPC_METHOD]: fullMethod },
    },
    context.active(),
  );
}

function endClientSpan(span: Span, code: number): void {
  const name = statusName(code);
  span.setAttribute(ATTR_RPC_STATUS_CODE, name);
  // For a gRPC client every status but OK is an error (the conventions' gRPC rules; the server
  // counts only its own faults): error.type names it, and the span status is ERROR.
  if (code !== status.OK) {
    span.setAttribute(ATTR_ERROR_TYPE, name);
    span.setStatus({ code: SpanStatusCode.ERROR, message: name });
  }
  span.end();
}

/**
 * A grpc-js client interceptor that traces the unary calls of `stateward.v1.SessionState` and
 * propagates the trace context to the server. Streaming calls (Pipeline, Watch) pass through
 * untouched: trace the Pipeline's operations with {@link createPipelineTracing}.
 *
 * @example
 * const client = new SessionStateClient(address, credentials.createInsecure(), {
 *   interceptors: [createTracingInterceptor()],
 * });
 */
export function createTracingInterceptor(options: ClientTracingOptions = {}): Interceptor {
  const tracer = tracerOf(options);
  return (callOptions, nextCall) => {
    const definition = callOptions.method_definition;
    if (definition.requestStream || definition.responseStream) return new InterceptingCall(nextCall(callOptions));
    const method = definition.path.slice(definition.path.lastIndexOf("/") + 1);
    const propagator = options.propagator ?? propagation;
    const requester = new RequesterBuilder()
      .withStart((metadata, _listener, next) => {
        const span = startClientSpan(tracer, method);
        propagator.inject(trace.setSpan(context.active(), span), metadata, METADATA_SETTER);
        next(
          metadata,
          new ListenerBuilder()
            // Only the status is observed; everything else passes through to the caller's listener.
            .withOnReceiveStatus((received, nextStatus) => {
              endClientSpan(span, received.code);
              nextStatus(received);
            })
            .build(),
        );
      })
      .build();
    return new InterceptingCall(nextCall(callOptions), requester);
  };
}

const PIPELINE_METHODS: Readonly<Record<string, string>> = {
  get: "Get",
  lock: "Lock",
  set: "Set",
  release: "Release",
  expire: "Expire",
  remove: "Remove",
};

/**
 * A {@link PipelineOperationHook} that traces each pipelined operation: a client span per
 * operation, child of the context active when the operation was issued, whose context travels in
 * the operation's `traceparent` / `tracestate` fields.
 *
 * @example
 * const pipeline = new PipelineClient(address, credentials.createInsecure(), {
 *   operationHook: createPipelineTracing(),
 * });
 */
export function createPipelineTracing(options: ClientTracingOptions = {}): PipelineOperationHook {
  const tracer = tracerOf(options);
  return {
    start(kind: string, operation: PipelineOperation) {
      const span = startClientSpan(tracer, PIPELINE_METHODS[kind] ?? kind);
      (options.propagator ?? propagation).inject(trace.setSpan(context.active(), span), operation as TraceFields, OPERATION_SETTER);
      return (error) => endClientSpan(span, error === undefined ? status.OK : (error as { code?: number }).code ?? status.UNKNOWN);
    },
  };
}
