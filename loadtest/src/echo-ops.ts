/** Client side of the echo baseline: one grpc-js channel calling Echo. */
import { Client, credentials, Metadata } from "@grpc/grpc-js";
import { ECHO_METHOD_PATH, decodeEcho, encodeEcho } from "./echo-protocol";
import { callDeadline, channelOptions } from "./grpc-channel-options";

/** One channel to an echo server. */
export class EchoOps {
  private readonly client: Client;

  /** @param address - `host:port` of the echo server. */
  constructor(address: string) {
    this.client = new Client(address, credentials.createInsecure(), channelOptions());
  }

  /** One Echo call; resolves with the echoed bytes' length. */
  echo(data: Buffer): Promise<number> {
    return new Promise((resolve, reject) => {
      this.client.makeUnaryRequest<Buffer, Buffer>(
        ECHO_METHOD_PATH,
        encodeEcho,
        decodeEcho,
        data,
        new Metadata(),
        { deadline: callDeadline() },
        (error, response) => (error === null || error === undefined ? resolve(response?.length ?? 0) : reject(error)),
      );
    });
  }

  /** Closes the channel. */
  close(): void {
    this.client.close();
  }
}
