/** A plain HTTP GET against a server of the test's own on 127.0.0.1 (metrics, health checks). */
import http from "node:http";

/** What a GET answered. */
export interface HttpAnswer {
  readonly status: number;
  /** The content-type header. */
  readonly type: string;
  readonly body: string;
}

/** GETs `path` from 127.0.0.1:`port` on a fresh connection, failing after 5 s. */
export function httpGet(port: number, path: string): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const request = http.get({ host: "127.0.0.1", port, path, timeout: 5000, agent: false }, (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => (body += chunk));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, type: String(response.headers["content-type"]), body }));
    });
    request.on("timeout", () => request.destroy(new Error(`GET ${path} timed out`)));
    request.on("error", reject);
  });
}
