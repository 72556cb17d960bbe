/** grpc-js client options shared by every gRPC channel the tool opens. */
import type { ClientOptions } from "@grpc/grpc-js";

/** Deadline of every call the tool makes, ms: bounds each request, hence each load loop. */
export const CALL_DEADLINE_MS = 30_000;

/**
 * Options of one channel: `use_local_subchannel_pool` gives every client its own connection, so
 * that "channels" in the concurrency formula are real HTTP/2 connections and not one shared one.
 * @param tls - the channel speaks TLS: the server's name is checked as `localhost` (a name of the
 *   test certificate) rather than sent as an IP address, which TLS's SNI does not allow.
 */
export function channelOptions(tls = false): Partial<ClientOptions> {
  return {
    "grpc.use_local_subchannel_pool": 1,
    "grpc.max_receive_message_length": 64 * 1024 * 1024,
    "grpc.max_send_message_length": 64 * 1024 * 1024,
    ...(tls ? { "grpc.ssl_target_name_override": "localhost" } : {}),
  };
}

/** The deadline of a call started now. */
export function callDeadline(): Date {
  return new Date(Date.now() + CALL_DEADLINE_MS);
}
