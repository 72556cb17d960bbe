/**
 * The Prometheus scrape endpoint (`--metrics-port`): `GET /metrics` in the Prometheus text format,
 * served by a {@link PrometheusTextReader} (Prometheus naming, see prometheus-naming.ts) on an HTTP
 * server of our own, so that it binds
 * exactly like the gRPC port (same host, loopback unless --allow-remote) and its failures surface
 * at startup.
 */
import http from "node:http";
import { listenHttp, type HttpEndpoint, type HttpRoutes } from "../http/http-listener";
import type { PrometheusTextReader } from "./prometheus-text-reader";

/** A listening metrics endpoint. */
export type MetricsEndpoint = HttpEndpoint;

/** Path of the scrape endpoint. */
export const METRICS_PATH = "/metrics";

/**
 * Starts the endpoint.
 * @param host - address to bind (the server's --host).
 * @param port - port to bind; 0 picks a free one (tests).
 * @param reader - the reader registered with the MeterProvider, whose text `/metrics` serves; made
 *   before anything listens, so that a start that fails before the bind leaves no port open.
 * @param routes - further routes served on the same port (the health checks, http/health-routes.ts).
 * @throws if the address cannot be bound.
 */
export async function startMetricsEndpoint(host: string, port: number, reader: PrometheusTextReader, routes?: HttpRoutes): Promise<MetricsEndpoint> {
  const server = http.createServer((request, response) => {
    const path = (request.url ?? "").split("?")[0];
    if (request.method === "GET" && path === METRICS_PATH) {
      reader.getMetricsRequestHandler(request, response);
      return;
    }
    if (routes?.(request, response) === true) return;
    response.statusCode = 404;
    response.setHeader("content-type", "text/plain; charset=utf-8");
    response.end(`not found: metrics are at ${METRICS_PATH}\n`);
  });
  return listenHttp(server, host, port, "metrics");
}
