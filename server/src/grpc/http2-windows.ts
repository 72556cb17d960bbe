/**
 * Large HTTP/2 flow-control windows on the server's connections.
 *
 * Why: a Pipeline stream carries thousands of operations a second in one HTTP/2 stream; with the
 * protocol's default 64 KiB windows the client's writes stall until the server's WINDOW_UPDATE
 * comes back, and batches stay small. The SDK raises its own receive window
 * (`grpc-node.flow_control_window`); this raises the server's: {@link SERVER_HTTP2_CONNECTION_WINDOW_BYTES}
 * per connection, {@link SERVER_HTTP2_STREAM_WINDOW_BYTES} per stream. The per-stream window is
 * what a stream the server has stopped reading (back-pressure, `--max-pipeline-in-flight`) may
 * still have sent to it unread, for every stream of a connection, so it stays at 1 MiB (four of
 * the SDK's largest batches in flight); the connection's window, released as the server reads,
 * bounds nothing by itself and is as wide as the client's.
 *
 * grpc-js 1.14 has no server option for either window (its client has
 * `grpc-node.flow_control_window`), so this reaches into two of its private fields: the options it
 * gives `http2.createServer` (`commonServerOptions.settings.initialWindowSize`, the per-stream
 * window announced in SETTINGS) and the HTTP/2 servers it created (`http2Servers`, whose sessions
 * get `setLocalWindowSize`, the connection's window). When a grpc-js upgrade renames them, the
 * server keeps working with the default windows and {@link raiseStreamWindow} /
 * {@link raiseConnectionWindows} return false (the server logs a warning). The proper fix is an
 * option upstream, the server-side twin of `grpc-node.flow_control_window`.
 */
import type { Http2Server, Http2Session } from "node:http2";
import type { Server } from "@grpc/grpc-js";

/** The connection's window: 16 MiB (the HTTP/2 maximum is 2^31 − 1), as the SDK's. */
export const SERVER_HTTP2_CONNECTION_WINDOW_BYTES = 16 * 1024 * 1024;

/** Each stream's window, announced in SETTINGS: 1 MiB (see the module comment for why not more). */
export const SERVER_HTTP2_STREAM_WINDOW_BYTES = 1024 * 1024;

/** The private parts of a grpc-js Server this module uses (see the module comment). */
interface GrpcServerInternals {
  commonServerOptions?: { settings?: Record<string, unknown> };
  http2Servers?: Map<Http2Server, { sessions?: Set<Http2Session> }>;
}

/**
 * Announces a `bytes` per-stream window in the SETTINGS of every connection the server accepts
 * from now on. Call before `bindAsync`. False when grpc-js no longer has the field.
 */
export function raiseStreamWindow(server: Server, bytes: number = SERVER_HTTP2_STREAM_WINDOW_BYTES): boolean {
  const internals = server as unknown as GrpcServerInternals;
  const options = internals.commonServerOptions;
  if (options === undefined || typeof options !== "object") return false;
  options.settings = { ...options.settings, initialWindowSize: bytes };
  return true;
}

/**
 * Gives every connection of the server's listeners a `bytes` connection window: those open now and
 * those accepted later. Call after `bindAsync` has succeeded. False when grpc-js no longer has the
 * field or has no listener.
 */
export function raiseConnectionWindows(server: Server, bytes: number = SERVER_HTTP2_CONNECTION_WINDOW_BYTES): boolean {
  const listeners = (server as unknown as GrpcServerInternals).http2Servers;
  if (!(listeners instanceof Map) || listeners.size === 0) return false;
  const raise = (session: Http2Session): void => {
    // A session that is already closing has no window left to raise; ignore it.
    if (session.destroyed || session.closed) return;
    try {
      session.setLocalWindowSize(bytes);
    } catch {
      // Raced with the peer's close: nothing to do for a connection that is going away.
    }
  };
  for (const [listener, info] of listeners) {
    info.sessions?.forEach(raise);
    listener.on("session", raise);
  }
  return true;
}
