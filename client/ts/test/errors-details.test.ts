/**
 * How the SDK reads a refusal's reason: the `google.rpc.ErrorInfo` in `grpc-status-details-bin`
 * first, the legacy `stateward-reason` trailer of older servers otherwise, and a pipeline
 * OperationError's reason and metadata. Pure client code: no Stateward server (a fake grpc-js
 * server for the end-to-end cases), so these hold whatever state the server is in.
 */
import * as assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import { status } from "@grpc/grpc-js";
import {
  ERROR_DOMAIN,
  ERROR_INFO_TYPE_URL,
  LEGACY_REASON_TRAILER,
  STATUS_DETAILS_TRAILER,
  decodeStatusDetails,
  encodeStatusDetails,
  type PipelineRequest,
  type PipelineResponse,
  type SessionStateServer,
} from "@stateward/protocol";
import { PipelineOperationError, SessionClient, StatewardError, toStatewardError } from "../src";
import { startFakeServer, type FakeServer } from "./helpers";

/** A grpc-js `ServiceError` as the unary client rejects with, carrying `trailers`. */
function serviceError(code: status, details: string, trailers: grpc.Metadata): grpc.ServiceError {
  return Object.assign(new Error(`${code} ${status[code]}: ${details}`), { code, details, metadata: trailers });
}

function trailers(entries: Record<string, string | Buffer>): grpc.Metadata {
  const metadata = new grpc.Metadata();
  for (const [key, value] of Object.entries(entries)) metadata.set(key, value);
  return metadata;
}

const ITEM_TOO_LARGE = { code: status.INVALID_ARGUMENT, message: "data is 2048 bytes; the limit is 1024", reason: "ITEM_TOO_LARGE", metadata: { field: "data", limit: "1024", size: "2048" } };

describe("errors: reasons from the status details and the legacy trailer", () => {
  describe("the google.rpc.Status codec", () => {
    it("round-trips code, message, reason, domain and metadata", () => {
      const decoded = decodeStatusDetails(encodeStatusDetails(ITEM_TOO_LARGE));
      assert.deepEqual(decoded, {
        code: status.INVALID_ARGUMENT,
        message: ITEM_TOO_LARGE.message,
        errorInfo: { reason: "ITEM_TOO_LARGE", domain: ERROR_DOMAIN, metadata: ITEM_TOO_LARGE.metadata },
      });
    });

    it("writes the googleapis wire format (field numbers and types of google.rpc.Status and ErrorInfo)", () => {
      const bytes = encodeStatusDetails({ code: 10, message: "m", reason: "R" });
      const errorInfo = Buffer.concat([Buffer.from([0x0a, 1]), Buffer.from("R"), Buffer.from([0x12, ERROR_DOMAIN.length]), Buffer.from(ERROR_DOMAIN)]);
      const any = Buffer.concat([Buffer.from([0x0a, ERROR_INFO_TYPE_URL.length]), Buffer.from(ERROR_INFO_TYPE_URL), Buffer.from([0x12, errorInfo.length]), errorInfo]);
      // code = 1 (varint), message = 2 (string), details = 3 (repeated Any: type_url = 1, value = 2).
      const expected = Buffer.concat([Buffer.from([0x08, 10, 0x12, 1]), Buffer.from("m"), Buffer.from([0x1a, any.length]), any]);
      assert.deepEqual(bytes, expected);
    });

    it("is tolerant: garbage is undefined, a Status without an ErrorInfo has none", () => {
      assert.equal(decodeStatusDetails(Buffer.from([0xff, 0xff, 0xff])), undefined);
      assert.deepEqual(decodeStatusDetails(Buffer.from([0x08, 5])), { code: 5, message: "" });
    });
  });

  describe("toStatewardError", () => {
    it("reads reason and metadata from grpc-status-details-bin (a current server sends both trailers)", () => {
      const error = toStatewardError(
        serviceError(
          status.INVALID_ARGUMENT,
          ITEM_TOO_LARGE.message,
          trailers({ [STATUS_DETAILS_TRAILER]: encodeStatusDetails(ITEM_TOO_LARGE), [LEGACY_REASON_TRAILER]: "ITEM_TOO_LARGE" }),
        ),
        "set",
      );
      assert.ok(StatewardError.is(error));
      assert.equal(error.code, status.INVALID_ARGUMENT);
      assert.equal(error.reason, "ITEM_TOO_LARGE");
      assert.deepEqual(error.metadata, { field: "data", limit: "1024", size: "2048" });
      assert.ok(Object.isFrozen(error.metadata));
      assert.equal(error.details, ITEM_TOO_LARGE.message);
      assert.equal(error.trailers.get(LEGACY_REASON_TRAILER)[0], "ITEM_TOO_LARGE");
    });

    it("prefers the details over a legacy trailer that disagrees", () => {
      const details = encodeStatusDetails({ code: status.ABORTED, message: "stale", reason: "STALE_LOCK_ID" });
      const error = toStatewardError(
        serviceError(status.ABORTED, "stale", trailers({ [STATUS_DETAILS_TRAILER]: details, [LEGACY_REASON_TRAILER]: "LOCKED_BY_OTHER" })),
        "set",
      );
      assert.equal(error.reason, "STALE_LOCK_ID");
    });

    it("falls back to the legacy stateward-reason trailer of older servers, with no metadata", () => {
      const error = toStatewardError(serviceError(status.ABORTED, "locked", trailers({ [LEGACY_REASON_TRAILER]: "LOCKED_BY_OTHER" })), "remove");
      assert.equal(error.reason, "LOCKED_BY_OTHER");
      assert.deepEqual(error.metadata, {});
    });

    it("falls back to the legacy trailer when the details do not decode", () => {
      const error = toStatewardError(
        serviceError(status.ABORTED, "locked", trailers({ [STATUS_DETAILS_TRAILER]: Buffer.from([0xff, 0xff]), [LEGACY_REASON_TRAILER]: "LOCKED_BY_OTHER" })),
        "remove",
      );
      assert.equal(error.reason, "LOCKED_BY_OTHER");
    });

    it("uses the status name when no reason was sent", () => {
      const error = toStatewardError(serviceError(status.UNAVAILABLE, "down", new grpc.Metadata()), "get");
      assert.equal(error.reason, "UNAVAILABLE");
      assert.deepEqual(error.metadata, {});
    });

    it("reads a pipeline error's reason and metadata", () => {
      const error = toStatewardError(new PipelineOperationError(status.RESOURCE_EXHAUSTED, "queue full", "TOO_MANY_WAITERS", { limit: "50" }), "lock");
      assert.equal(error.reason, "TOO_MANY_WAITERS");
      assert.deepEqual(error.metadata, { limit: "50" });
    });
  });

  describe("over the wire, from a fake server", function () {
    let server: FakeServer;
    let address: string;
    const clients: SessionClient[] = [];

    before(async () => {
      const refusal = { code: status.INVALID_ARGUMENT, message: "app must be at most 128 bytes; got 129", reason: "INVALID_FIELD", metadata: { field: "app", limit: "128" } };
      const implementation: Partial<SessionStateServer> = {
        // Unary: both trailers, as the server sends them on every refusal.
        set: (_call, callback) =>
          callback({
            code: refusal.code,
            details: refusal.message,
            metadata: trailers({ [STATUS_DETAILS_TRAILER]: encodeStatusDetails(refusal), [LEGACY_REASON_TRAILER]: refusal.reason }),
          }),
        // An older server: the legacy trailer only.
        remove: (_call, callback) => callback({ code: status.ABORTED, details: "locked", metadata: trailers({ [LEGACY_REASON_TRAILER]: "LOCKED_BY_OTHER" }) }),
        pipeline: (call) => {
          call.on("data", (request: PipelineRequest) => {
            const results: PipelineResponse["results"] = request.operations.map((operation) => ({
              id: operation.id,
              result: { $case: "error", value: { code: refusal.code, message: refusal.message, reason: refusal.reason, metadata: refusal.metadata } },
            }));
            call.write({ results });
          });
          call.on("end", () => call.end());
        },
      };
      server = await startFakeServer(implementation);
      address = server.address;
    });

    after(() => {
      for (const client of clients) client.close();
      server.close();
    });

    function client(transport: "unary" | "pipeline"): SessionClient {
      const created = new SessionClient({ address, transport, retry: false });
      clients.push(created);
      return created;
    }

    async function failure(call: Promise<unknown>): Promise<StatewardError> {
      const error: unknown = await call.then(
        () => assert.fail("expected a refusal"),
        (e: unknown) => e,
      );
      assert.ok(StatewardError.is(error), `a StatewardError, got ${String(error)}`);
      return error;
    }

    it("unary: the ErrorInfo in grpc-status-details-bin", async () => {
      const error = await failure(client("unary").set("app", "sid", "data"));
      assert.equal(error.code, status.INVALID_ARGUMENT);
      assert.equal(error.reason, "INVALID_FIELD");
      assert.deepEqual(error.metadata, { field: "app", limit: "128" });
    });

    it("unary: the legacy trailer of an older server", async () => {
      const error = await failure(client("unary").remove("app", "sid"));
      assert.equal(error.reason, "LOCKED_BY_OTHER");
      assert.deepEqual(error.metadata, {});
    });

    it("pipeline: the OperationError's reason and metadata", async () => {
      const error = await failure(client("pipeline").set("app", "sid", "data"));
      assert.equal(error.code, status.INVALID_ARGUMENT);
      assert.equal(error.reason, "INVALID_FIELD");
      assert.deepEqual(error.metadata, { field: "app", limit: "128" });
    });
  });
});
