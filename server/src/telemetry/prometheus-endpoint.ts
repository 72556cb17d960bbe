/**
 * The Prometheus scrape endpoint (`--metrics-port`): `GET /metrics` in the Prometheus text format,
 * served by a {@link PrometheusTextReader} (Prometheus naming, see prometheus-naming.ts) on an HTTP
 * server of our own, so that it binds exactly like the gRPC port (same host, loopback unless
 * --allow-remote), speaks HTTPS with the same material when TLS is on, and its failures surface at
 * startup. With an auth file, `/metrics` needs a principal (a bearer token, or with mutual TLS a
 * client certificate named in the file), as Prometheus sends with `authorization` or `tls_config`;
 * with mutual TLS and no auth file, a client certificate from --tls-client-ca. The health checks on
 * the same port stay open.
 */
import type http from "node:http";
import { clientCertificateCn, createHttpServer, hasClientCertificate, listenHttp, type HttpEndpoint, type HttpRoutes } from "../http/http-listener";
import { isDenial, presentedCredential } from "../security/access-policy";
import type { AccessControl } from "../security/access-control";
import type { TlsState } from "../security/tls-state";
import type { PrometheusTextReader } from "./prometheus-text-reader";

/** A listening metrics endpoint. */
export type MetricsEndpoint = HttpEndpoint;

/** Path of the scrape endpoint. */
export const METRICS_PATH = "/metrics";

/** Transport security of the endpoint. */
export interface MetricsSecurity {
  /** HTTPS with this material. */
  readonly tls?: TlsState;
  /** `/metrics` needs a principal of this policy. */
  readonly access?: AccessControl;
}

/** Answers 401 with `message`; `bearer` asks for a token (`www-authenticate: Bearer`). */
function unauthorized(response: http.ServerResponse, message: string, bearer: boolean): void {
  response.statusCode = 401;
  if (bearer) response.setHeader("www-authenticate", 'Bearer realm="stateward"');
  response.setHeader("content-type", "text/plain; charset=utf-8");
  response.end(`${message}\n`);
}

/** True when the scrape may go on; otherwise answers 401. */
function authenticated(request: http.IncomingMessage, response: http.ServerResponse, access: AccessControl): boolean {
  const header = request.headers.authorization;
  const credential = presentedCredential(header === undefined ? [] : [header], () => clientCertificateCn(request));
  const peer = request.socket.remoteAddress === undefined ? undefined : `${request.socket.remoteAddress}:${request.socket.remotePort ?? 0}`;
  const result = access.authenticate(credential, { method: `GET ${METRICS_PATH}`, ...(peer === undefined ? {} : { peer }) });
  if (!isDenial(result)) return true;
  unauthorized(response, result.message, true);
  return false;
}

/**
 * Starts the endpoint.
 * @param host - address to bind (the server's --host).
 * @param port - port to bind; 0 picks a free one (tests).
 * @param reader - the reader registered with the MeterProvider, whose text `/metrics` serves; made
 *   before anything listens, so that a start that fails before the bind leaves no port open.
 * @param routes - further routes served on the same port (the health checks, http/health-routes.ts).
 * @param security - TLS and authentication; default plain HTTP, open.
 * @throws if the address cannot be bound.
 */
export async function startMetricsEndpoint(
  host: string,
  port: number,
  reader: PrometheusTextReader,
  routes?: HttpRoutes,
  security: MetricsSecurity = {},
): Promise<MetricsEndpoint> {
  const { access } = security;
  // Mutual TLS is authentication too: without an auth file, its certificates decide.
  const certificateOnly = access === undefined && security.tls?.mutual === true;
  const server = createHttpServer((request, response) => {
    const path = (request.url ?? "").split("?")[0];
    if (request.method === "GET" && path === METRICS_PATH) {
      if (certificateOnly && !hasClientCertificate(request)) {
        unauthorized(response, "this endpoint requires a client certificate from the server's --tls-client-ca", false);
        return;
      }
      if (access === undefined || authenticated(request, response, access)) reader.getMetricsRequestHandler(request, response);
      return;
    }
    if (routes?.(request, response) === true) return;
    response.statusCode = 404;
    response.setHeader("content-type", "text/plain; charset=utf-8");
    response.end(`not found: metrics are at ${METRICS_PATH}\n`);
  }, security.tls);
  return listenHttp(server, host, port, "metrics");
}
