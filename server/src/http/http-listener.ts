/**
 * Binding an HTTP server the way the gRPC port binds: on the given host (loopback unless
 * --allow-remote), port 0 for any free port, and a bind failure reported at startup with what the
 * port was for. With TLS (--tls-cert), the server speaks HTTPS only and follows certificate reloads.
 */
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { TLSSocket } from "node:tls";
import type { TlsMaterial } from "../security/tls-material";
import type { TlsState } from "../security/tls-state";

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

/** An HTTP or HTTPS server. */
export type AnyHttpServer = http.Server | https.Server;

function contextOptions(material: TlsMaterial): https.ServerOptions {
  // With a client CA, a client may present a certificate (a principal can be named by it); health
  // checks of load balancers present none, so none is required here.
  return {
    cert: material.cert,
    key: material.key,
    ...(material.clientCa === undefined ? {} : { ca: material.clientCa, requestCert: true, rejectUnauthorized: false }),
  };
}

/**
 * An HTTP server, or with `tls` an HTTPS server whose certificate follows the reloads (new
 * connections get the new one).
 */
export function createHttpServer(listener: http.RequestListener, tls?: TlsState): AnyHttpServer {
  if (tls === undefined) return http.createServer(listener);
  const server = https.createServer(contextOptions(tls.material), listener);
  const unsubscribe = tls.onReplace((material) => server.setSecureContext(contextOptions(material)));
  server.once("close", unsubscribe);
  return server;
}

/**
 * The subject common name of the client certificate of `request`, when one was presented and
 * chains to --tls-client-ca; undefined otherwise.
 */
export function clientCertificateCn(request: http.IncomingMessage): string | undefined {
  if (!hasClientCertificate(request)) return undefined;
  const cn = (request.socket as TLSSocket).getPeerCertificate().subject?.CN;
  return typeof cn === "string" ? cn : undefined;
}

/** True when `request` came with a client certificate that chains to --tls-client-ca. */
export function hasClientCertificate(request: http.IncomingMessage): boolean {
  const socket = request.socket;
  return socket instanceof TLSSocket && socket.authorized;
}

/**
 * Starts `server` listening.
 * @param purpose - what the port serves, for the error message (e.g. "health checks").
 * @throws if the address cannot be bound.
 */
export async function listenHttp(server: AnyHttpServer, host: string, port: number, purpose: string): Promise<HttpEndpoint> {
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
