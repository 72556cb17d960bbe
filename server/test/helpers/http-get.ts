/**
 * HTTP and HTTPS requests against a server of the test's own on 127.0.0.1 (metrics, health
 * checks).
 */
import http from "node:http";
import https from "node:https";

/** What a request answered. */
export interface HttpAnswer {
  readonly status: number;
  /** The content-type header. */
  readonly type: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

/** HTTPS and request headers; without `ca`, plain HTTP. */
export interface RequestOptions {
  /** Speak HTTPS, trusting these CA certificates (the server's certificate names localhost). */
  readonly ca?: Buffer;
  /** A client certificate and its key (PEM), for mutual TLS. */
  readonly cert?: Buffer;
  readonly key?: Buffer;
  readonly headers?: Readonly<Record<string, string>>;
}

/**
 * Sends `method path` to 127.0.0.1:`port` on a fresh connection (no keep-alive pool that could
 * outlive the test), failing after 5 s.
 */
export function httpRequest(port: number, path: string, method = "GET", options: RequestOptions = {}): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const common = { host: "127.0.0.1", port, path, method, timeout: 5000, agent: false as const, headers: { ...options.headers } };
    const onResponse = (response: http.IncomingMessage): void => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => (body += chunk));
      response.on("end", () =>
        resolve({ status: response.statusCode ?? 0, type: String(response.headers["content-type"]), headers: response.headers, body }),
      );
    };
    const request =
      options.ca === undefined
        ? http.request(common, onResponse)
        : https.request(
            {
              ...common,
              servername: "localhost",
              ca: options.ca,
              ...(options.cert === undefined ? {} : { cert: options.cert }),
              ...(options.key === undefined ? {} : { key: options.key }),
            },
            onResponse,
          );
    request.on("timeout", () => request.destroy(new Error(`${method} ${path} timed out`)));
    request.on("error", reject);
    request.end();
  });
}

/** GETs `path` from 127.0.0.1:`port` (see {@link httpRequest}). */
export function httpGet(port: number, path: string, options: RequestOptions = {}): Promise<HttpAnswer> {
  return httpRequest(port, path, "GET", options);
}
