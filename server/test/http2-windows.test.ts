import assert from "node:assert/strict";
import http2 from "node:http2";
import { SERVER_HTTP2_CONNECTION_WINDOW_BYTES, SERVER_HTTP2_STREAM_WINDOW_BYTES } from "../src/grpc/http2-windows";
import { startTestServer, type TestServer } from "./helpers/test-server";

/** The HTTP/2 protocol's default window, per stream and per connection. */
const DEFAULT_WINDOW = 65_535;

/** A plain HTTP/2 connection (not grpc-js) to the server: what any peer sees of its windows. */
async function connect(port: number): Promise<{ session: http2.ClientHttp2Session; settings: http2.Settings }> {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  const settings = await new Promise<http2.Settings>((resolve, reject) => {
    session.once("remoteSettings", resolve);
    session.once("error", reject);
  });
  return { session, settings };
}

/** Waits for a PING round trip: every frame the server sent before its answer has been read. */
function ping(session: http2.ClientHttp2Session): Promise<void> {
  return new Promise((resolve, reject) => {
    session.ping((error) => (error === null ? resolve() : reject(error)));
  });
}

describe("server HTTP/2 flow-control windows", () => {
  let server: TestServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it(`announces a ${SERVER_HTTP2_STREAM_WINDOW_BYTES / 1024 / 1024} MiB stream window and opens a ${SERVER_HTTP2_CONNECTION_WINDOW_BYTES / 1024 / 1024} MiB connection window`, async () => {
    server = await startTestServer();
    const { session, settings } = await connect(server.server.port);
    try {
      assert.equal(settings.initialWindowSize, SERVER_HTTP2_STREAM_WINDOW_BYTES);
      await ping(session);
      // What this client may send before the server's next WINDOW_UPDATE: the whole connection window.
      assert.equal(session.state.remoteWindowSize, SERVER_HTTP2_CONNECTION_WINDOW_BYTES);
      assert.ok(SERVER_HTTP2_STREAM_WINDOW_BYTES > DEFAULT_WINDOW);
    } finally {
      session.destroy();
    }
  });

  it("raises the window of every connection, not only the first", async () => {
    server = await startTestServer();
    const first = await connect(server.server.port);
    const second = await connect(server.server.port);
    try {
      await Promise.all([ping(first.session), ping(second.session)]);
      assert.equal(first.session.state.remoteWindowSize, SERVER_HTTP2_CONNECTION_WINDOW_BYTES);
      assert.equal(second.session.state.remoteWindowSize, SERVER_HTTP2_CONNECTION_WINDOW_BYTES);
      assert.equal(second.settings.initialWindowSize, SERVER_HTTP2_STREAM_WINDOW_BYTES);
    } finally {
      first.session.destroy();
      second.session.destroy();
    }
  });
});
