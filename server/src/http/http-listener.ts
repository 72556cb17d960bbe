/**
 * Binding an HTTP server the way the gRPC port binds: on the given host (loopback unless
 * --allow-remote), port 0 for any free port, and a bind failure reported at startup with what the
 * port was for.
 */
import type http from "node:http";
import type { AddressInfo } from "node:net";

/** A listening HTTP server. */
export interface HttpEndpoint {
  /** The port actually bound. */
  readonly port: number;
  /** Stops listening; open keep-alive connections are closed too. */
  close(): Promise<void>;
}

/**
 * A route table: handles the request and returns true, or returns false (and leaves the response
 * untouched) when the path is not one of its own.
 */
export type HttpRoutes = (request: http.IncomingMessage, response: http.ServerResponse) => boolean;

/**
 * Starts `server` listening.
 * @param purpose - what the port serves, for the error message (e.g. "health checks").
 * @throws if the address cannot be bound.
 */
export async function listenHttp(server: http.Server, host: string, port: number, purpose: string): Promise<HttpEndpoint> {
  await new Promise<void>((resolve, reject) => {
    const onError = (error: Error): void => reject(new Error(`Cannot serve ${purpose} on ${host}:${port}: ${error.message}`, { cause: error }));
    server.once("error", onError);
    server.listen({ host, port }, () => {
      server.off("error", onError);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
