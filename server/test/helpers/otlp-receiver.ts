/**
 * A stand-in OpenTelemetry collector for tests: an HTTP server on 127.0.0.1:0 that accepts
 * OTLP/HTTP exports (any path, any body) and keeps the raw request bodies by path (`/v1/traces`,
 * `/v1/metrics`), so tests can look at exactly the bytes a real exporter sent.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";

/** A running receiver. */
export interface OtlpReceiver {
  /** `http://127.0.0.1:<port>`, for OTEL_EXPORTER_OTLP_ENDPOINT. */
  readonly url: string;
  /** Request bodies by path. */
  readonly received: Map<string, Buffer[]>;
  /** All bodies received on `path`, concatenated. */
  bytes(path: string): Buffer;
  close(): void;
}

/** Starts a receiver. */
export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const received = new Map<string, Buffer[]>();
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const bodies = received.get(request.url ?? "") ?? [];
      bodies.push(Buffer.concat(chunks));
      received.set(request.url ?? "", bodies);
      // An empty body of the request's type is a valid (full success) export response.
      response.writeHead(200, { "content-type": request.headers["content-type"] ?? "application/json" });
      response.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    bytes: (path) => Buffer.concat(received.get(path) ?? []),
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}
