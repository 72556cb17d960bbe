/**
 * The SessionState service definition the server registers: the generated one, with the
 * hand-written codecs of `@stateward/protocol` (codec/) where payloads travel: exact-size encoders
 * for the Get and Lock responses and the Pipeline's responses, and a Pipeline request decoder whose
 * Set payloads are views into the received message (held only while their operation runs).
 *
 * The response encoders write into one reused scratch buffer: grpc-js's server copies a serialized
 * response into the frame it sends (`serializeMessage`: a buffer of 5 + length bytes, then `copy`)
 * before it serializes the next, so the payload is copied once from the slab into the scratch and
 * once into grpc-js's frame, and each response allocates only that frame. grpc-js has no way to
 * take a message already framed (which would save the second copy). A test sends bursts of distinct
 * responses through a real server and checks every byte, so a grpc-js that kept the serialized
 * buffer instead of copying it would fail it.
 */
import {
  EncodeScratch,
  SessionStateService,
  decodePipelineRequest,
  encodeGetResponse,
  encodeLockResponse,
  encodePipelineResponse,
  type GetResponse,
  type LockResponse,
  type PipelineResponse,
} from "@stateward/protocol";

/** Shared by the three serializers: each result is copied by grpc-js before the next encode. */
const scratch = new EncodeScratch();

/** The SessionState definition the server registers: the generated one with these codecs. */
export const SESSION_STATE_SERVER_DEFINITION = {
  ...SessionStateService,
  get: { ...SessionStateService.get, responseSerialize: (message: GetResponse) => encodeGetResponse(message, scratch) },
  lock: { ...SessionStateService.lock, responseSerialize: (message: LockResponse) => encodeLockResponse(message, scratch) },
  pipeline: {
    ...SessionStateService.pipeline,
    requestDeserialize: decodePipelineRequest,
    responseSerialize: (message: PipelineResponse) => encodePipelineResponse(message, scratch),
  },
};
