#!/usr/bin/env node
/**
 * The echo baseline server, run by the tool as a child process: a bare grpc-js server with one
 * unary Echo method. Usage: `node echo-server-main.js --port <n>` (0 = any free port). Prints
 * `{"port":<n>}` on stdout once it listens; SIGTERM stops it.
 */
import { Server, ServerCredentials, type sendUnaryData, type ServerUnaryCall } from "@grpc/grpc-js";
import { EchoService } from "./echo-protocol";

function main(): void {
  const portIndex = process.argv.indexOf("--port");
  const port = portIndex >= 0 ? Number(process.argv[portIndex + 1]) : 0;
  const server = new Server();
  server.addService(EchoService, {
    echo: (call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) => callback(null, call.request),
  });
  // Loopback only: the tool never listens anywhere else.
  server.bindAsync(`127.0.0.1:${port}`, ServerCredentials.createInsecure(), (error, boundPort) => {
    if (error !== null) {
      process.stderr.write(`echo server: ${error.message}\n`);
      process.exit(1);
    }
    process.stdout.write(`${JSON.stringify({ port: boundPort })}\n`);
  });
  const stop = (): void => server.tryShutdown(() => process.exit(0));
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

main();
