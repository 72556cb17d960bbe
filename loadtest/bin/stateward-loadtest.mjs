#!/usr/bin/env node
// The bin entry of @stateward/loadtest. It exists before the build, so `npm ci` links it on a fresh
// clone; the CLI itself is compiled to dist/ by `npx tsc -b`.
import("../dist/cli.js").catch((error) => {
  if (error?.code === "ERR_MODULE_NOT_FOUND") {
    process.stderr.write("stateward-loadtest: not built yet: run `npx tsc -b` (or `make build`) first\n");
    process.exit(1);
  }
  throw error;
});
