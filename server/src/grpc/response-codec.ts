/**
 * The SessionState service definition the server registers: the generated one, with the
 * hand-written codecs of `@stateward/protocol` (codec/) where payloads travel: exact-size encoders
 * for the Get and Lock responses and the Pipeline's responses, and a Pipeline request decoder whose
 * Set payloads are views into the received message (held only while their operation runs).
 */
import { SessionStateService, decodePipelineRequest, encodeGetResponse, encodeLockResponse, encodePipelineResponse } from "@stateward/protocol";

/** The SessionState definition the server registers: the generated one with these codecs. */
export const SESSION_STATE_SERVER_DEFINITION = {
  ...SessionStateService,
  get: { ...SessionStateService.get, responseSerialize: encodeGetResponse },
  lock: { ...SessionStateService.lock, responseSerialize: encodeLockResponse },
  pipeline: { ...SessionStateService.pipeline, requestDeserialize: decodePipelineRequest, responseSerialize: encodePipelineResponse },
};
