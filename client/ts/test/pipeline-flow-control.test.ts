/**
 * The HTTP/2 window a pipeline channel announces, seen by a raw node:http2 server on 127.0.0.1:0:
 * the per-stream window in the client's SETTINGS and the connection window after its WINDOW_UPDATE.
 * The server answers nothing; the operations that open the connection fail when the client closes.
 */
import * as grpc from "@grpc/grpc-js";
import { createServer, type Http2Session, type Settings } from "node:http2";
import type { AddressInfo } from "node:net";
import { FLOW_CONTROL_WINDOW_OPTION, PIPELINE_FLOW_CONTROL_WINDOW_BYTES, PipelineClient } from "../src";
import { assert, useResources, waitFor } from "./helpers";

/** A session the raw server accepted, with the client's SETTINGS once they arrived. */
interface Accepted {
  readonly session: Http2Session;
  settings: Settings | undefined;
}

/** A raw HTTP/2 server that records its sessions and leaves every stream unanswered. */
async function startRawServer(): Promise<{ address: string; sessions: Accepted[]; close(): Promise<void> }> {
  const server = createServer();
  const sessions: Accepted[] = [];
  server.on("session", (session) => {
    const accepted: Accepted = { session, settings: undefined };
    session.once("remoteSettings", (settings) => (accepted.settings = settings));
    sessions.push(accepted);
  });
  server.on("stream", () => undefined);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    sessions,
    close: () =>
      new Promise<void>((resolve) => {
        for (const { session } of sessions) session.destroy();
        server.close(() => resolve());
      }),
  };
}

/** What the client announced on its first connection: per-stream (SETTINGS) and connection windows. */
async function announcedWindows(sessions: Accepted[], connectionWindow: number): Promise<{ stream: number; connection: number }> {
  await waitFor(() => sessions[0]?.settings !== undefined && sessions[0].session.state.remoteWindowSize === connectionWindow, "the client's SETTINGS and WINDOW_UPDATE");
  const accepted = sessions[0] as Accepted;
  return { stream: accepted.settings?.initialWindowSize ?? 0, connection: accepted.session.state.remoteWindowSize ?? 0 };
}

describe("PipelineClient: HTTP/2 flow-control windows", function () {
  const r = useResources();
  const request = { app: "app", sessionId: "s1", waitMs: 0 };

  it("announces 16 MiB per stream and per connection by default", async () => {
    assert.equal(PIPELINE_FLOW_CONTROL_WINDOW_BYTES, 16 * 1024 * 1024);
    const server = await startRawServer();
    r().defer(() => server.close());
    const client = new PipelineClient(server.address, grpc.credentials.createInsecure());
    r().defer(() => client.close());
    client.get(request).catch(() => undefined);
    assert.deepEqual(await announcedWindows(server.sessions, PIPELINE_FLOW_CONTROL_WINDOW_BYTES), {
      stream: PIPELINE_FLOW_CONTROL_WINDOW_BYTES,
      connection: PIPELINE_FLOW_CONTROL_WINDOW_BYTES,
    });
  });

  it("lets a window in the user's channel options win", async () => {
    const server = await startRawServer();
    r().defer(() => server.close());
    const mine = 1024 * 1024;
    const client = new PipelineClient(server.address, grpc.credentials.createInsecure(), { channelOptions: { [FLOW_CONTROL_WINDOW_OPTION]: mine } });
    r().defer(() => client.close());
    client.get(request).catch(() => undefined);
    assert.deepEqual(await announcedWindows(server.sessions, mine), { stream: mine, connection: mine });
  });

  it("SessionClient's pipeline transport announces it on the node's shared channel; a user value wins", async () => {
    const server = await startRawServer();
    r().defer(() => server.close());
    const client = r().client({ address: server.address, retry: false });
    client.get("app", "s1").catch(() => undefined);
    assert.equal((await announcedWindows(server.sessions, PIPELINE_FLOW_CONTROL_WINDOW_BYTES)).stream, PIPELINE_FLOW_CONTROL_WINDOW_BYTES);

    const second = await startRawServer();
    r().defer(() => second.close());
    const mine = 2 * 1024 * 1024;
    const own = r().client({ address: second.address, retry: false, channelOptions: { [FLOW_CONTROL_WINDOW_OPTION]: mine } });
    own.get("app", "s1").catch(() => undefined);
    assert.equal((await announcedWindows(second.sessions, mine)).stream, mine);
  });

  it("SessionClient's unary transport keeps grpc-js's default window", async () => {
    const server = await startRawServer();
    r().defer(() => server.close());
    const client = r().client({ address: server.address, retry: false, transport: "unary" });
    client.get("app", "s1").catch(() => undefined);
    await waitFor(() => server.sessions[0]?.settings !== undefined, "the client's SETTINGS");
    // Absent from SETTINGS means the protocol's default, 65,535.
    assert.equal(server.sessions[0]?.settings?.initialWindowSize ?? 65_535, 65_535);
  });
});
