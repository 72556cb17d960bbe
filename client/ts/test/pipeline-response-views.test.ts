/**
 * PipelineClient decodes responses with the view decoder: the data of Gets answered in one
 * message are views into that received message, not copies as the generated decoder makes.
 */
import * as grpc from "@grpc/grpc-js";
import { GetResponse, Outcome, PipelineClient, type PipelineRequest, type PipelineResponse, type SessionStateServer } from "../src";
import { assert, startFakeServer, useResources } from "./helpers";

describe("PipelineClient: session data as views of the received message", function () {
  const r = useResources();

  it("two Gets answered in one message: their data are views into it, with the right bytes", async () => {
    const payload = (id: bigint): Buffer => Buffer.alloc(5000, Number(id % 200n) + 1);
    const implementation: Partial<SessionStateServer> = {
      pipeline: (call: grpc.ServerDuplexStream<PipelineRequest, PipelineResponse>) => {
        const seen: bigint[] = [];
        call.on("data", (request: PipelineRequest) => {
          seen.push(...request.operations.map((operation) => operation.id));
          // Both answered together, in one message, once both have arrived.
          if (seen.length === 2) {
            call.write({ results: seen.map((id) => ({ id, result: { $case: "get" as const, value: GetResponse.fromPartial({ outcome: Outcome.OUTCOME_OK, data: payload(id), version: 1n }) } })) });
          }
        });
        call.on("end", () => call.end());
      },
    };
    const fake = await startFakeServer(implementation);
    r().defer(() => fake.close());
    const client = new PipelineClient(fake.address, grpc.credentials.createInsecure());
    r().defer(() => client.close());
    const [first, second] = await Promise.all([client.get({ app: "app", sessionId: "a", waitMs: 0 }), client.get({ app: "app", sessionId: "b", waitMs: 0 })]);
    assert.deepEqual(first.data, payload(1n));
    assert.deepEqual(second.data, payload(2n));
    // A view sits in the message right after its field's tag and length (field 2, 5000 bytes):
    // 0x12, then 5000 as a varint. A copy sits wherever its allocation put it.
    for (const data of [first.data, second.data]) {
      assert.deepEqual([...new Uint8Array(data.buffer, data.byteOffset - 3, 3)], [0x12, 0x88, 0x27], "a view into the received message");
    }
  });
});
