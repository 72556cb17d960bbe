/**
 * One Redis command over a fresh loopback connection, in RESP2, for the Redis test harness: it
 * polls readiness and moves cluster slots without redis-cli's per-call process start and without
 * its line-based output (which cannot carry a key with a newline), and without the client library
 * that the backend under test uses.
 */
import net from "node:net";

/** A RESP2 reply: simple and bulk strings, integers, nil (null) and arrays of these. */
export type RespReply = string | number | null | RespReply[];

/** An error reply of Redis (`-ERR ...`, `-MOVED ...`); its message is Redis's line. */
export class RespError extends Error {
  override readonly name = "RespError";
}

/** How to reach one Redis: loopback port and, when it asks for one, the default user's password. */
export interface RespTarget {
  readonly port: number;
  readonly password?: string;
}

function encode(args: readonly string[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    const bytes = Buffer.from(arg, "utf8");
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from("\r\n"));
  }
  return Buffer.concat(parts);
}

/** Parses one reply at `offset`; undefined when `buffer` does not hold all of it yet. */
function parse(buffer: Buffer, offset: number): { reply: RespReply | RespError; end: number } | undefined {
  const lineEnd = buffer.indexOf("\r\n", offset);
  if (lineEnd < 0) return undefined;
  const kind = String.fromCharCode(buffer[offset] ?? 0);
  const line = buffer.toString("utf8", offset + 1, lineEnd);
  const next = lineEnd + 2;
  switch (kind) {
    case "+":
      return { reply: line, end: next };
    case "-":
      return { reply: new RespError(line), end: next };
    case ":":
      return { reply: Number(line), end: next };
    case "$": {
      const length = Number(line);
      if (length < 0) return { reply: null, end: next };
      if (buffer.length < next + length + 2) return undefined;
      return { reply: buffer.toString("utf8", next, next + length), end: next + length + 2 };
    }
    case "*": {
      const count = Number(line);
      if (count < 0) return { reply: null, end: next };
      const items: RespReply[] = [];
      let at = next;
      for (let i = 0; i < count; i++) {
        const item = parse(buffer, at);
        if (item === undefined) return undefined;
        // An error inside an array (EXEC) is kept as its message; the harness sends no EXEC.
        items.push(item.reply instanceof RespError ? item.reply.message : item.reply);
        at = item.end;
      }
      return { reply: items, end: at };
    }
    default:
      throw new Error(`unexpected RESP reply type ${JSON.stringify(kind)}`);
  }
}

/**
 * Sends `args` (after AUTH when `target` has a password) and resolves with the reply; rejects
 * with {@link RespError} on an error reply, or with the socket's error (ECONNREFUSED while the
 * server is down) or a timeout after `timeoutMs`.
 */
export function respCommand(target: RespTarget, args: readonly string[], timeoutMs = 5_000): Promise<RespReply> {
  const commands = target.password !== undefined && target.password !== "" ? [["AUTH", target.password], args] : [args];
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port: target.port });
    let buffer = Buffer.alloc(0);
    const replies: (RespReply | RespError)[] = [];
    const finish = (error: Error | undefined, reply?: RespReply): void => {
      socket.destroy();
      clearTimeout(timer);
      if (error !== undefined) reject(error);
      else resolve(reply ?? null);
    };
    const timer = setTimeout(() => finish(new Error(`Redis on port ${target.port} did not answer ${args[0] ?? ""} within ${timeoutMs} ms`)), timeoutMs);
    socket.on("error", (error) => finish(error));
    socket.on("close", () => finish(new Error(`Redis on port ${target.port} closed the connection`)));
    socket.on("data", (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      let offset = 0;
      for (;;) {
        const parsed = parse(buffer, offset);
        if (parsed === undefined) break;
        replies.push(parsed.reply);
        offset = parsed.end;
      }
      buffer = buffer.subarray(offset);
      if (replies.length < commands.length) return;
      const failed = replies.find((reply): reply is RespError => reply instanceof RespError);
      if (failed !== undefined) finish(failed);
      else finish(undefined, replies[replies.length - 1] as RespReply);
    });
    socket.write(Buffer.concat(commands.map(encode)));
  });
}
