/**
 * Handlers of `stateward.v1.SessionState`'s unary calls: decode → store → encode. Every answer
 * comes through the store's completion, at once or later, and every failure through the status
 * mapping. Deliberately thin and quiet (no per-call logging): this is the hot path.
 */
import type { ServerUnaryCall, sendUnaryData } from "@grpc/grpc-js";
import type {
  ExpireRequest,
  ExpireResponse,
  GetRequest,
  GetResponse,
  LockRequest,
  LockResponse,
  ReleaseRequest,
  ReleaseResponse,
  RemoveRequest,
  RemoveResponse,
  SessionStateServer,
  SetRequest,
  SetResponse,
} from "@stateward/protocol";
import type { Logger } from "../logger";
import { NO_DEADLINE } from "../store/call-deadline";
import type { Clock } from "../store/clock";
import type { LockResult } from "../store/operations";
import type { Cancellation } from "../store/session-backend";
import type { SessionStore, StoreCompletion } from "../store/session-store";
import type { OperationMethod } from "../telemetry/telemetry-names";
import { callDeadline } from "./deadline";
import type { PipelineService } from "./pipeline-service";
import { describeFailure, toGrpcStatus, toStatus, unattendedCompletion, type Failure } from "./status-mapping";
import {
  toExpireInput,
  toExpireResponse,
  toGetInput,
  toGetResponse,
  toLockInput,
  toLockResponse,
  toReleaseInput,
  toReleaseResponse,
  toRemoveInput,
  toRemoveResponse,
  toSetInput,
  toSetResponse,
} from "./wire-conversion";

/** The handlers built here: every method of the service but Watch. */
export type SessionStateHandlers = Pick<SessionStateServer, "get" | "lock" | "set" | "release" | "expire" | "remove" | "pipeline">;

/** The request fields every unary call has. */
export interface KeyedRequest {
  readonly app: string;
  readonly sessionId: string;
}

/**
 * Observes each unary call (telemetry: see unary-telemetry.ts). Absent, the handlers do no
 * observation work at all.
 */
export interface UnaryObserver {
  /** A call starts; `requestBytes` is the session data it carries (Set). */
  start(method: OperationMethod, call: ServerUnaryCall<KeyedRequest, unknown>, requestBytes: number): UnaryObservation;
}

/** One observed call; exactly one of `answered`, `failed` and `cancelled` is called. */
export interface UnaryObservation {
  /** The store said the call waits in a session's queue. */
  waiting(): void;
  /** Answered with `outcome` (a `stateward.outcome` value) and `responseBytes` of session data. */
  answered(outcome: string, responseBytes: number): void;
  /** Answered with a failure. */
  failed(failure: Failure): void;
  /** The caller went away and the store withdrew the call unanswered. */
  cancelled(): void;
}

/** What a response says, for telemetry: its `stateward.outcome` and the session bytes it returns. */
export interface ResponseFacts<Res> {
  readonly outcome: (response: Res) => string;
  readonly bytes: (response: Res) => number;
}

/** A completion that answers `callback` with `toResponse(result)`, or with the mapped failure. */
class UnaryAnswer<R, Res> implements StoreCompletion<R> {
  /** Set by the first answer: a second one (a throw that surfaced after answering) is ignored. */
  protected answered = false;

  constructor(
    protected readonly callback: sendUnaryData<Res>,
    protected readonly toResponse: (result: R) => Res,
    protected readonly logger: Logger,
  ) {}

  resolve(result: R): void {
    if (this.answered) return;
    this.answered = true;
    this.callback(null, this.toResponse(result));
  }

  reject(error: unknown): void {
    if (this.answered) {
      describeFailure(error, this.logger);
      return;
    }
    this.answered = true;
    this.callback(toGrpcStatus(error, this.logger));
  }
}

/** {@link UnaryAnswer}, reporting to an observation. */
class ObservedUnaryAnswer<R, Res> extends UnaryAnswer<R, Res> {
  constructor(
    callback: sendUnaryData<Res>,
    toResponse: (result: R) => Res,
    logger: Logger,
    private readonly observation: UnaryObservation,
    private readonly facts: ResponseFacts<Res>,
  ) {
    super(callback, toResponse, logger);
  }

  override resolve(result: R): void {
    if (this.answered) return;
    this.answered = true;
    const response = this.toResponse(result);
    this.callback(null, response);
    this.observation.answered(this.facts.outcome(response), this.facts.bytes(response));
  }

  override reject(error: unknown): void {
    const failure = describeFailure(error, this.logger);
    if (this.answered) return;
    this.answered = true;
    this.callback(toStatus(failure));
    this.observation.failed(failure);
  }

  waiting(): void {
    this.observation.waiting();
  }
}

/**
 * A Lock's completion: a lock granted to a caller that has left meanwhile (grpc-js drops the
 * answer) is released at once instead of waiting for its lease.
 */
class LockAnswer implements StoreCompletion<LockResult> {
  constructor(
    private readonly answer: StoreCompletion<LockResult>,
    private readonly call: ServerUnaryCall<LockRequest, LockResponse>,
    private readonly store: SessionStore,
    private readonly releaseQuietly: StoreCompletion<unknown>,
    private readonly observation: UnaryObservation | undefined,
  ) {}

  resolve(result: LockResult): void {
    if (result.outcome === "ok" && this.call.cancelled) {
      const request = this.call.request;
      this.store.release({ app: request.app, sessionId: request.sessionId, lockId: result.lockId }, this.releaseQuietly);
      this.observation?.cancelled();
      return;
    }
    this.answer.resolve(result);
  }

  reject(error: unknown): void {
    this.answer.reject(error);
  }

  waiting(): void {
    this.answer.waiting?.();
  }

  gone(): boolean {
    return this.call.cancelled;
  }
}

/**
 * A call answered later (it waits, or the backend answers asynchronously) is withdrawn when its
 * client goes away (cancel, disconnect, deadline). grpc-js also emits `cancelled` after a normal
 * answer; the store's cancel then returns false and nothing happens.
 */
function withdrawOnCancel(call: ServerUnaryCall<unknown, unknown>, handle: Cancellation, observation: UnaryObservation | undefined): void {
  const withdraw = (): void => {
    if (handle.cancel()) observation?.cancelled();
  };
  if (call.cancelled) withdraw();
  else call.once("cancelled", withdraw);
}

/** Telemetry facts of each response. */
export const RESPONSE_FACTS = {
  get: { outcome: (r: GetResponse) => outcomeName(r.outcome), bytes: (r: GetResponse) => r.data.length },
  lock: { outcome: (r: LockResponse) => outcomeName(r.outcome), bytes: (r: LockResponse) => r.data.length },
  set: { outcome: (r: SetResponse) => (r.written ? "written" : "not_written"), bytes: () => 0 },
  release: { outcome: (r: ReleaseResponse) => (r.released ? "released" : "not_released"), bytes: () => 0 },
  expire: { outcome: (r: ExpireResponse) => (r.found ? "found" : "not_found"), bytes: () => 0 },
  remove: { outcome: (r: RemoveResponse) => (r.removed ? "removed" : "not_found"), bytes: () => 0 },
} as const;

/** The `stateward.outcome` of a Get or Lock answer's Outcome enum value. */
export function outcomeName(outcome: number): string {
  switch (outcome) {
    case 1:
      return "ok";
    case 2:
      return "not_found";
    case 3:
      return "locked";
    default:
      return "unspecified";
  }
}

/**
 * Creates the service implementation over `store`, all but Watch (see watch-service.ts); register it
 * with `server.addService(SessionStateService, { ...createSessionStateService(...), watch })`.
 *
 * @param store - the session store answering every call.
 * @param logger - receives the causes of INTERNAL answers (never session ids or data).
 * @param pipeline - the Pipeline rpc's handler (see pipeline-service.ts).
 * @param clock - the store's clock: deadlines are measured on it.
 * @param observer - telemetry; absent = none (the handlers then do no observation work).
 */
export function createSessionStateService(
  store: SessionStore,
  logger: Logger,
  pipeline: PipelineService,
  clock: Clock,
  observer?: UnaryObserver,
): SessionStateHandlers {
  /** The completion of one call, observed when telemetry is on. */
  function answerTo<R, Res>(
    callback: sendUnaryData<Res>,
    toResponse: (result: R) => Res,
    observation: UnaryObservation | undefined,
    facts: ResponseFacts<Res>,
  ): StoreCompletion<R> {
    return observation === undefined
      ? new UnaryAnswer(callback, toResponse, logger)
      : new ObservedUnaryAnswer(callback, toResponse, logger, observation, facts);
  }

  /** The completion of a release nobody waits for (a lock granted to a caller that left). */
  const releaseQuietly = unattendedCompletion(logger);

  return {
    pipeline: pipeline.handle,

    get(call: ServerUnaryCall<GetRequest, GetResponse>, callback: sendUnaryData<GetResponse>): void {
      const observation = observer?.start("Get", call, 0);
      const request = call.request;
      // Only a wait has to fit into the deadline.
      const deadline = request.waitMs > 0 ? callDeadline(call.getDeadline(), clock) : NO_DEADLINE;
      const completion = answerTo(callback, toGetResponse, observation, RESPONSE_FACTS.get);
      let handle: Cancellation | undefined;
      try {
        handle = store.get(toGetInput(request), completion, deadline);
      } catch (error) {
        completion.reject(error);
        return;
      }
      if (handle !== undefined) withdrawOnCancel(call, handle, observation);
    },

    lock(call: ServerUnaryCall<LockRequest, LockResponse>, callback: sendUnaryData<LockResponse>): void {
      const observation = observer?.start("Lock", call, 0);
      const input = toLockInput(call.request);
      const answer = answerTo(callback, toLockResponse, observation, RESPONSE_FACTS.lock);
      const completion = new LockAnswer(answer, call, store, releaseQuietly, observation);
      let handle: Cancellation | undefined;
      try {
        handle = store.lock(input, completion, callDeadline(call.getDeadline(), clock));
      } catch (error) {
        completion.reject(error);
        return;
      }
      if (handle !== undefined) withdrawOnCancel(call, handle, observation);
    },

    set(call: ServerUnaryCall<SetRequest, SetResponse>, callback: sendUnaryData<SetResponse>): void {
      const request = call.request;
      const observation = observer?.start("Set", call, request.data.length);
      const completion = answerTo(callback, toSetResponse, observation, RESPONSE_FACTS.set);
      let handle: Cancellation | undefined;
      try {
        handle = store.set(toSetInput(request), completion);
      } catch (error) {
        // The store answers through the completion; a throw is a bug, answered INTERNAL.
        completion.reject(error);
        return;
      }
      if (handle !== undefined) withdrawOnCancel(call, handle, observation);
    },

    release(call: ServerUnaryCall<ReleaseRequest, ReleaseResponse>, callback: sendUnaryData<ReleaseResponse>): void {
      const observation = observer?.start("Release", call, 0);
      const completion = answerTo(callback, toReleaseResponse, observation, RESPONSE_FACTS.release);
      let handle: Cancellation | undefined;
      try {
        handle = store.release(toReleaseInput(call.request), completion);
      } catch (error) {
        // The store answers through the completion; a throw is a bug, answered INTERNAL.
        completion.reject(error);
        return;
      }
      if (handle !== undefined) withdrawOnCancel(call, handle, observation);
    },

    expire(call: ServerUnaryCall<ExpireRequest, ExpireResponse>, callback: sendUnaryData<ExpireResponse>): void {
      const observation = observer?.start("Expire", call, 0);
      const completion = answerTo(callback, toExpireResponse, observation, RESPONSE_FACTS.expire);
      let handle: Cancellation | undefined;
      try {
        handle = store.expire(toExpireInput(call.request), completion);
      } catch (error) {
        // The store answers through the completion; a throw is a bug, answered INTERNAL.
        completion.reject(error);
        return;
      }
      if (handle !== undefined) withdrawOnCancel(call, handle, observation);
    },

    remove(call: ServerUnaryCall<RemoveRequest, RemoveResponse>, callback: sendUnaryData<RemoveResponse>): void {
      const observation = observer?.start("Remove", call, 0);
      const completion = answerTo(callback, toRemoveResponse, observation, RESPONSE_FACTS.remove);
      let handle: Cancellation | undefined;
      try {
        handle = store.remove(toRemoveInput(call.request), completion);
      } catch (error) {
        // The store answers through the completion; a throw is a bug, answered INTERNAL.
        completion.reject(error);
        return;
      }
      if (handle !== undefined) withdrawOnCancel(call, handle, observation);
    },
  };
}
