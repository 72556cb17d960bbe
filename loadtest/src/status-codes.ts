/** Names of failures for the "errors by status code" figures. */
import { status } from "@grpc/grpc-js";

const GRPC_NAMES = new Map<number, string>(
  Object.entries(status)
    .filter((entry): entry is [string, number] => typeof entry[1] === "number")
    .map(([name, code]) => [code, name]),
);

/**
 * The status name of a failed request: the gRPC status name (UNAVAILABLE, ABORTED, …) for gRPC
 * errors, `REDIS_ERROR` for Redis replies, `TIMEOUT` for the tool's own deadline, `CLIENT_ERROR` else.
 */
export function statusName(error: unknown): string {
  if (typeof error === "object" && error !== null) {
    const record = error as { code?: unknown; name?: unknown };
    if (typeof record.code === "number") return GRPC_NAMES.get(record.code) ?? `GRPC_${record.code}`;
    if (record.name === "ReplyError") return "REDIS_ERROR";
    if (record.name === "TimeoutError") return "TIMEOUT";
  }
  return "CLIENT_ERROR";
}
