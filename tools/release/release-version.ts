/**
 * One version for every release artifact: the root package.json's. The manifests that npm pack
 * and the Python build read carry copies (those tools read nothing else); {@link releaseVersion}
 * names each copy that differs. The Go module's version is `v<version>` (mk/dist.mk).
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";

/** The release version and every copy of it that disagrees. */
export interface ReleaseVersion {
  readonly version: string;
  /** One line per problem: which copy, what it says. Empty when all agree. */
  readonly problems: readonly string[];
}

type Manifest = { version?: string; dependencies?: Record<string, string> };

/** Reads the version of the repository at `root` and checks its copies. */
export function releaseVersion(root: string): ReleaseVersion {
  const read = (file: string): string => readFileSync(path.join(root, file), "utf8");
  const json = (file: string): Manifest => JSON.parse(read(file)) as Manifest;
  const version = json("package.json").version ?? "";
  if (!/^\d+\.\d+\.\d+$/.test(version)) {
    return { version, problems: [`package.json: version "${version}" is not MAJOR.MINOR.PATCH (the Go module needs a plain semantic version)`] };
  }
  const client = json("client/ts/package.json");
  const copies: { where: string; value: string | undefined }[] = [
    { where: "protocol/package.json version", value: json("protocol/package.json").version },
    { where: "client/ts/package.json version", value: client.version },
    // Exact: the client tarball installs with the protocol tarball built beside it.
    { where: 'client/ts/package.json dependency "@stateward/protocol"', value: client.dependencies?.["@stateward/protocol"] },
    { where: "client/python/pyproject.toml [project] version", value: /^\[project\][^[]*?^version\s*=\s*"([^"]*)"/m.exec(read("client/python/pyproject.toml"))?.[1] },
    { where: "client/python/src/stateward_client/__init__.py __version__", value: /^__version__\s*=\s*"([^"]*)"/m.exec(read("client/python/src/stateward_client/__init__.py"))?.[1] },
  ];
  return {
    version,
    problems: copies.filter((c) => c.value !== version).map((c) => `${c.where} is "${c.value ?? "(missing)"}", but the release version (package.json) is ${version}`),
  };
}
