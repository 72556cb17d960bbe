/**
 * Handlers of `stateward.v1.SessionState`: decode → store → encode, with failures answered through
 * the status mapping. Deliberately thin and quiet (no per-call logging): this is the hot path.
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
} from "@stateward/client";
import type { Logger } from "../logger";
import type { PipelineService } from "./pipeline-service";
import type { WaitHandle } from "../store/operations";
import type { SessionStore } from "../store/session-store";
import { status } from "@grpc/grpc-js";
import { canStillDeliver, deadlineMs, tooLateToLock, tooLateToLockMessage, waitWithinDeadline } from "./deadline";
import { toGrpcStatus } from "./status-mapping";
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

/** The requested wait, shortened so that an OUTCOME_LOCKED answer beats the call's deadline. */
function effectiveWaitMs(call: ServerUnaryCall<unknown, unknown>, requestedMs: number): number {
  return requestedMs > 0 ? waitWithinDeadline(requestedMs, call.getDeadline(), Date.now()) : 0;
}

/**
 * A waiting call whose client goes away (cancel, disconnect, deadline) leaves the session's queue
 * at once. grpc-js also emits `cancelled` after a normal answer; cancelling then is a no-op.
 */
function leaveQueueOnCancel(call: ServerUnaryCall<unknown, unknown>, handle: WaitHandle): void {
  if (call.cancelled) handle.cancel();
  else call.once("cancelled", () => handle.cancel());
}

/** The handlers built here: every method of the service but Watch. */
export type SessionStateHandlers = Pick<SessionStateServer, "get" | "lock" | "set" | "release" | "expire" | "remove" | "pipeline">;

/**
 * Creates the service implementation over `store`, all but Watch (see watch-service.ts); register it
 * with `server.addService(SessionStateService, { ...createSessionStateService(...), watch })`.
 *
 * @param store - the session store answering every call.
 * @param logger - receives the causes of INTERNAL answers (never session ids or data).
 * @param pipeline - the Pipeline rpc's handler (see pipeline-service.ts).
 */
export function createSessionStateService(
  store: SessionStore,
  logger: Logger,
  pipeline: PipelineService,
): SessionStateHandlers {
  return {
    pipeline: pipeline.handle,

    get(call: ServerUnaryCall<GetRequest, GetResponse>, callback: sendUnaryData<GetResponse>): void {
      const waitMs = effectiveWaitMs(call, call.request.waitMs);
      try {
        const handle = store.get(toGetInput(call.request, waitMs), {
          resolve: (result) => callback(null, toGetResponse(result)),
          reject: (error) => callback(toGrpcStatus(error, logger)),
          // No isActive: the store asks it only before granting a lock, and readers never get one.
        });
        if (handle !== undefined) leaveQueueOnCancel(call, handle);
      } catch (error) {
        callback(toGrpcStatus(error, logger));
      }
    },

    lock(call: ServerUnaryCall<LockRequest, LockResponse>, callback: sendUnaryData<LockResponse>): void {
      const arrived = Date.now();
      const deadline = call.getDeadline();
      const remaining = deadlineMs(deadline) - arrived;
      if (tooLateToLock(remaining, remaining)) {
        // A lock granted now could not reach the caller in time: refuse before touching the store.
        callback({ code: status.DEADLINE_EXCEEDED, details: tooLateToLockMessage("the call's deadline", remaining) });
        return;
      }
      const waitMs = effectiveWaitMs(call, call.request.waitMs);
      try {
        const input = toLockInput(call.request, waitMs);
        const handle = store.lock(input, {
          resolve: (result) => {
            if (result.outcome === "ok" && call.cancelled) {
              // The caller left while the lock was being granted (grpc-js drops the answer): a lock
              // nobody will release must not wait for its lease.
              store.release({ app: input.app, sessionId: input.sessionId, lockId: result.lockId });
              return;
            }
            callback(null, toLockResponse(result));
          },
          reject: (error) => callback(toGrpcStatus(error, logger)),
          // Never hand a queued lock to a caller that is gone, or whose deadline is too close for
          // the answer to arrive: nobody would release it before its lease ends. (Only queued
          // waiters are asked, so immediate calls skip the closure.)
          isActive: waitMs > 0 ? canStillDeliver(() => call.cancelled, deadline, arrived) : undefined,
          // Left unanswered by the store because a lock could no longer reach the caller in time.
          dropped: () => callback({ code: status.DEADLINE_EXCEEDED, details: "the call's deadline is too close to deliver a lock" }),
        });
        if (handle !== undefined) leaveQueueOnCancel(call, handle);
      } catch (error) {
        callback(toGrpcStatus(error, logger));
      }
    },

    set(call: ServerUnaryCall<SetRequest, SetResponse>, callback: sendUnaryData<SetResponse>): void {
      let response: SetResponse;
      try {
        response = toSetResponse(store.set(toSetInput(call.request)));
      } catch (error) {
        callback(toGrpcStatus(error, logger));
        return;
      }
      callback(null, response);
    },

    release(call: ServerUnaryCall<ReleaseRequest, ReleaseResponse>, callback: sendUnaryData<ReleaseResponse>): void {
      let response: ReleaseResponse;
      try {
        response = toReleaseResponse(store.release(toReleaseInput(call.request)));
      } catch (error) {
        callback(toGrpcStatus(error, logger));
        return;
      }
      callback(null, response);
    },

    expire(call: ServerUnaryCall<ExpireRequest, ExpireResponse>, callback: sendUnaryData<ExpireResponse>): void {
      let response: ExpireResponse;
      try {
        response = toExpireResponse(store.expire(toExpireInput(call.request)));
      } catch (error) {
        callback(toGrpcStatus(error, logger));
        return;
      }
      callback(null, response);
    },

    remove(call: ServerUnaryCall<RemoveRequest, RemoveResponse>, callback: sendUnaryData<RemoveResponse>): void {
      let response: RemoveResponse;
      try {
        response = toRemoveResponse(store.remove(toRemoveInput(call.request)));
      } catch (error) {
        callback(toGrpcStatus(error, logger));
        return;
      }
      callback(null, response);
    },
  };
}
