/**
 * The TypeScript participant of the interop scenario (interop/run_interop.py): reads the session
 * the Python and Go participants used, takes its lock and removes it, through the generated
 * client of `@stateward/protocol`. Reports lock ids and versions as one JSON line on stdout; never
 * the session id or the data (only the data's SHA-256).
 *
 * Environment: STATEWARD_ADDR, STATEWARD_APP, STATEWARD_SESSION. Run: npx tsx interop/ts/remove.ts
 */
import { createHash } from "node:crypto";
import * as grpc from "@grpc/grpc-js";
import {
  GetRequest,
  type GetResponse,
  LockRequest,
  type LockResponse,
  Outcome,
  RemoveRequest,
  type RemoveResponse,
  SessionStateClient,
} from "@stateward/protocol";

type Unary<Req, Res> = (
  request: Req,
  metadata: grpc.Metadata,
  options: Partial<grpc.CallOptions>,
  callback: (error: grpc.ServiceError | null, response: Res) => void,
) => grpc.ClientUnaryCall;

function call<Req, Res>(client: SessionStateClient, method: Unary<Req, Res>, request: Req): Promise<Res> {
  return new Promise((resolve, reject) => {
    method.call(client, request, new grpc.Metadata(), { deadline: Date.now() + 10_000 }, (error, response) =>
      error ? reject(error) : resolve(response),
    );
  });
}

async function main(): Promise<void> {
  const addr = process.env.STATEWARD_ADDR;
  const app = process.env.STATEWARD_APP ?? "";
  const sessionId = process.env.STATEWARD_SESSION;
  if (!addr || !sessionId) throw new Error("STATEWARD_ADDR and STATEWARD_SESSION are required");
  const client = new SessionStateClient(addr, grpc.credentials.createInsecure());
  try {
    const got = await call<GetRequest, GetResponse>(client, client.get, GetRequest.fromPartial({ app, sessionId }));
    const lock = await call<LockRequest, LockResponse>(client, client.lock, LockRequest.fromPartial({ app, sessionId }));
    const removed = await call<RemoveRequest, RemoveResponse>(
      client,
      client.remove,
      RemoveRequest.fromPartial({ app, sessionId, lockId: lock.lockId }),
    );
    const after = await call<GetRequest, GetResponse>(client, client.get, GetRequest.fromPartial({ app, sessionId }));
    const outcomeName = (o: Outcome): string => Outcome[o] ?? String(o);
    console.log(
      JSON.stringify({
        event: "removed",
        get_outcome: outcomeName(got.outcome),
        get_version: got.version.toString(),
        data_sha256: createHash("sha256").update(got.data).digest("hex"),
        lock_outcome: outcomeName(lock.outcome),
        lock_id: lock.lockId.toString(),
        lock_version: lock.version.toString(),
        removed: removed.removed,
        after_outcome: outcomeName(after.outcome),
      }),
    );
  } finally {
    client.close();
  }
}

main().catch((error: unknown) => {
  console.error("interop-ts:", error instanceof Error ? error.message : String(error));
  process.exit(1);
});
