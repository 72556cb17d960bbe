/** Plain HTTP requests against a server of the test's own on 127.0.0.1 (metrics, health checks). */
import http from "node:http";

/** What a request answered. */
export interface HttpAnswer {
  readonly status: number;
  /** The content-type header. */
  readonly type: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

/**
 * Sends `method path` to 127.0.0.1:`port` on a fresh connection (no keep-alive pool that could
 * outlive the test), failing after 5 s.
 */
export function httpRequest(port: number, path: string, method = "GET"): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const request = http.request({ host: "127.0.0.1", port, path, method, timeout: 5000, agent: false }, (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => (body += chunk));
      response.on("end", () =>
        resolve({ status: response.statusCode ?? 0, type: String(response.headers["content-type"]), headers: response.headers, body }),
      );
    });
    request.on("timeout", () => request.destroy(new Error(`${method} ${path} timed out`)));
    request.on("error", reject);
    request.end();
  });
}

/** GETs `path` from 127.0.0.1:`port` (see {@link httpRequest}). */
export function httpGet(port: number, path: string): Promise<HttpAnswer> {
  return httpRequest(port, path);
}
