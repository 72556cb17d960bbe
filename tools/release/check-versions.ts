/**
 * `make dist`'s first step: prints the release version (the root package.json's), or fails,
 * naming each copy in the packages' manifests that says otherwise (release-version.ts).
 *
 * Usage: `npx tsx tools/release/check-versions.ts`.
 */
import * as path from "node:path";
import { releaseVersion } from "./release-version";

const { version, problems } = releaseVersion(path.resolve(__dirname, "..", ".."));
for (const problem of problems) console.error(problem);
if (problems.length > 0) process.exit(1);
console.log(version);
