/**
 * The server's gRPC receive cap (`grpc.max_receive_message_length`), derived from
 * `--max-item-bytes`. Every message up to the cap reaches Stateward's validation, so a payload
 * that is too large is refused with INVALID_ARGUMENT (ITEM_TOO_LARGE, naming the field and the
 * limit) rather than grpc-js's generic RESOURCE_EXHAUSTED "Received message larger than max",
 * which carries no reason. Only a message larger than the cap meets grpc-js's refusal.
 */

/**
 * How many times `--max-item-bytes` a message may carry before grpc-js refuses it unread: a
 * payload several times too large (a whole page cached by mistake, a file instead of its name) is
 * still told which limit it broke, while the bytes one call can make the server buffer stay bounded.
 */
export const RECEIVE_LIMIT_ITEM_MULTIPLE = 8;

/**
 * Room above the multiple for the request's other fields (app, session id, and the Pipeline's
 * envelope around a Set), so that a message carrying exactly the multiple of data still fits.
 */
export const RECEIVE_LIMIT_HEADROOM_BYTES = 64 * 1024;

/** gRPC message sizes are int32 in the other implementations; the cap never exceeds that. */
export const RECEIVE_LIMIT_MAX_BYTES = 2_147_483_647;

/**
 * The receive cap for `maxItemBytes`: `8 × maxItemBytes + 64 KiB`, at most 2^31 − 1 bytes (so with
 * `--max-item-bytes` above 256 MiB it is 2 GiB − 1, still above the item limit).
 */
export function receiveLimitBytes(maxItemBytes: number): number {
  return Math.min(RECEIVE_LIMIT_ITEM_MULTIPLE * maxItemBytes + RECEIVE_LIMIT_HEADROOM_BYTES, RECEIVE_LIMIT_MAX_BYTES);
}
