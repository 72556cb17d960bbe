/**
 * Opens the channels of a target. The one place that knows every transport: every scenario runs
 * over unary calls, the batched pipeline or Redis unchanged.
 */
import { GrpcUnarySessionOps } from "./grpc-unary-session-ops";
import { NodeRedisLuaSessionOps, NodeRedisPlainSessionOps } from "./node-redis-session-ops";
import { PipelineSessionOps } from "./pipeline-session-ops";
import { RedisSessionOps } from "./redis-session-ops";
import type { SessionOps } from "./session-ops";
import { splitHostPort, type RedisTarget, type StatewardTarget } from "./target-spec";

/**
 * Opens channel number `channel` of a session target; channels are spread round-robin over the
 * target's addresses.
 */
export function openSessionChannel(target: StatewardTarget | RedisTarget, channel: number): SessionOps {
  const address = target.addresses[channel % target.addresses.length];
  if (address === undefined) throw new Error("the target has no address");
  if (target.kind === "redis") {
    const { host, port } = splitHostPort(address);
    switch (target.client ?? "ioredis-lua") {
      case "ioredis-lua":
        return new RedisSessionOps(host, port, target.app);
      case "node-redis-lua":
        return new NodeRedisLuaSessionOps(host, port, target.app);
      case "node-redis-plain":
        return new NodeRedisPlainSessionOps(host, port, target.app);
    }
  }
  switch (target.transport) {
    case "unary":
      return new GrpcUnarySessionOps(address, target.app, target.security);
    case "pipeline":
      return new PipelineSessionOps(address, target.app, target.security, 0, target.sdkPollUs);
  }
}
