/**
 * The RPC names Stateward emits are those of the OpenTelemetry semantic conventions it says it
 * follows (SEMCONV_VERSION, the README's Observability section): compared with the stable exports
 * of @opentelemetry/semantic-conventions, not with a copy of the strings.
 */
import * as assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import {
  ATTR_ERROR_TYPE as SEMCONV_ERROR_TYPE,
  ATTR_RPC_METHOD as SEMCONV_RPC_METHOD,
  ATTR_RPC_STATUS_CODE as SEMCONV_RPC_STATUS_CODE,
  ATTR_RPC_SYSTEM_NAME as SEMCONV_RPC_SYSTEM_NAME,
  METRIC_RPC_SERVER_CALL_DURATION,
  RPC_SYSTEM_NAME_VALUE_GRPC,
} from "@opentelemetry/semantic-conventions";
import {
  ATTR_ERROR_TYPE,
  ATTR_RPC_METHOD,
  ATTR_RPC_STATUS_CODE,
  ATTR_RPC_SYSTEM_NAME,
  METRIC_CALL_DURATION,
  RPC_SYSTEM_GRPC,
  SEMCONV_VERSION,
  isServerError,
  rpcMethodOf,
  statusNameOf,
} from "../../src/telemetry/telemetry-names";

describe("telemetry names: the OpenTelemetry RPC semantic conventions", function () {
  it("uses the stable names of the conventions", () => {
    assert.equal(METRIC_CALL_DURATION, METRIC_RPC_SERVER_CALL_DURATION);
    assert.equal(ATTR_RPC_SYSTEM_NAME, SEMCONV_RPC_SYSTEM_NAME);
    assert.equal(RPC_SYSTEM_GRPC, RPC_SYSTEM_NAME_VALUE_GRPC);
    assert.equal(ATTR_RPC_METHOD, SEMCONV_RPC_METHOD);
    assert.equal(ATTR_RPC_STATUS_CODE, SEMCONV_RPC_STATUS_CODE);
    assert.equal(ATTR_ERROR_TYPE, SEMCONV_ERROR_TYPE);
  });

  it("says which version, in the code and in the README", () => {
    const readme = readFileSync(path.resolve(__dirname, "../../../README.md"), "utf8");
    assert.match(readme, new RegExp(`semantic conventions\\s+\\*\\*v${SEMCONV_VERSION.replace(/\./g, "\\.")}\\*\\*`), "the README names the version");
  });

  it("writes methods fully qualified, status codes by name, and marks only the gRPC server errors", () => {
    assert.equal(rpcMethodOf("Get"), "stateward.v1.SessionState/Get");
    assert.equal(statusNameOf(0), "OK");
    assert.equal(statusNameOf(5), "NOT_FOUND");
    assert.equal(statusNameOf(16), "UNAUTHENTICATED");
    assert.equal(statusNameOf(99), "99");
    const errors = Array.from({ length: 17 }, (_, code) => code).filter(isServerError).map(statusNameOf);
    assert.deepEqual(errors, ["UNKNOWN", "DEADLINE_EXCEEDED", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS"]);
  });
});
