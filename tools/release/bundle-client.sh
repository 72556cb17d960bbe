#!/bin/sh
# Makes the @stateward/client tarball installable on its own: @stateward/protocol, which it depends
# on and which is not on npm yet, goes inside it as a bundled dependency, and the protocol's own
# dependencies become the client's (npm installs none for a bundled package). npm pack cannot do
# this from the workspace (it does not bundle a linked workspace package), so the packed client is
# unpacked, the packed protocol put into its node_modules, and the result packed again.
#
# usage: bundle-client.sh <dist dir> <version>
set -eu
dist=$(cd "$1" && pwd) version=$2
client="$dist/stateward-client-$version.tgz" protocol="$dist/stateward-protocol-$version.tgz"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tar xzf "$client" -C "$work"
mkdir -p "$work/package/node_modules/@stateward/protocol"
tar xzf "$protocol" -C "$work/package/node_modules/@stateward/protocol" --strip-components=1
cd "$work/package"
node -e '
const fs = require("fs");
const client = JSON.parse(fs.readFileSync("package.json", "utf8"));
const protocol = JSON.parse(fs.readFileSync("node_modules/@stateward/protocol/package.json", "utf8"));
for (const [name, range] of Object.entries(protocol.dependencies ?? {})) {
  const own = client.dependencies[name];
  if (own !== undefined && own !== range) throw new Error(`${name}: the client wants ${own}, the protocol ${range}`);
  client.dependencies[name] = range;
}
client.bundleDependencies = ["@stateward/protocol"];
fs.writeFileSync("package.json", JSON.stringify(client, null, 2) + "\n");
'
# The contents are built already; prepack would rebuild from sources that are not here.
npm pack --silent --ignore-scripts --pack-destination "$work" > /dev/null
mv "$work/stateward-client-$version.tgz" "$client"
