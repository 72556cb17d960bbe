/**
 * gRPC server reflection (`grpcurl list`, `grpcurl describe`, grpcurl calls in JSON) over the
 * repository's compiled contract (proto/descriptor-set.binpb) plus the health proto shipped with
 * `grpc-health-check`.
 */
import fs from "node:fs";
import path from "node:path";
import type { Server, ServiceDefinition, UntypedServiceImplementation } from "@grpc/grpc-js";
import { loadSync, type PackageDefinition } from "@grpc/proto-loader";
import { ReflectionService } from "@grpc/reflection";
import type { AccessGuard } from "./access-guard";
import { protoPath as healthProtoPath } from "grpc-health-check";
import {
  FileDescriptorProto,
  FileDescriptorSet,
  type IDescriptorProto,
  type IFileDescriptorProto,
  type IFileDescriptorSet,
} from "protobufjs/ext/descriptor";

/**
 * The repository's proto root. This file runs as server/dist/grpc/*.js after a build and as
 * server/src/grpc/*.ts under tsx; both sit three levels below the repository root.
 */
export const PROTO_ROOT = path.resolve(__dirname, "../../../proto");

/**
 * Every file of the proto/ module and its imports (google/protobuf/timestamp.proto, ...), as
 * `buf build --as-file-descriptor-set` compiles them (`make proto` writes it, `make proto-check`
 * checks it). Served as compiled rather than from proto-loader's descriptors: proto-loader merges
 * the files of one package into one `stateward_v1.proto` without its imports, with relative type
 * names, which Go clients such as grpcurl cannot resolve ("cannot resolve type:
 * *.google.protobuf.Timestamp"). The compiled files keep their names, their imports as written,
 * fully qualified type names, and the .proto comments (which `grpcurl describe` prints).
 */
export const DESCRIPTOR_SET = path.join(PROTO_ROOT, "descriptor-set.binpb");

/** Path of the health contract inside grpc-health-check's proto root. */
const HEALTH_PROTO = "health/v1/health.proto";

/** protoc's name for the entry message of map field `field_name`: `FieldNameEntry`. */
function mapEntryName(fieldName: string): string {
  return `${fieldName.replace(/(?:^|_)(.)/g, (_match, first: string) => first.toUpperCase())}Entry`;
}

function fixMessage(message: IDescriptorProto, scope: string): void {
  const fullName = `${scope}.${message.name ?? ""}`;
  const nested = message.nestedType ?? [];
  for (const entry of nested) {
    if (entry.options?.mapEntry !== true) continue;
    const field = message.field?.find((candidate) => candidate.typeName === entry.name);
    if (field?.name === undefined) continue;
    entry.name = mapEntryName(field.name);
    field.typeName = `${fullName}.${entry.name}`;
  }
  for (const child of nested) fixMessage(child, fullName);
}

/**
 * protobufjs names the entry message of a map field after the field itself (`Statuses`), where
 * protoc says `StatusesEntry`; Go-based clients such as grpcurl reject such descriptors ("invalid
 * map: incorrect implicit map entry name", fullstorydev/grpcurl#519). grpc.health.v1's List has a
 * map, so its descriptor is corrected before it is served. (health.proto imports nothing, so
 * proto-loader's single-file rendering of it is otherwise complete.)
 */
function withProtocMapEntryNames(encoded: Buffer): Buffer {
  const file = FileDescriptorProto.decode(encoded) as IFileDescriptorProto;
  const scope = file.package === undefined || file.package === "" ? "" : `.${file.package}`;
  for (const message of file.messageType ?? []) fixMessage(message, scope);
  return Buffer.from(FileDescriptorProto.encode(file).finish());
}

/** The compiled contract's files, each encoded on its own as reflection answers carry them. */
function statewardFiles(): Buffer[] {
  const set = FileDescriptorSet.decode(fs.readFileSync(DESCRIPTOR_SET)) as unknown as IFileDescriptorSet;
  return set.file.map((file) => Buffer.from(FileDescriptorProto.encode(file).finish()));
}

/**
 * The definition handed to the reflection service. It indexes the files listed in the
 * `fileDescriptorProtos` of every entry (proto-loader gives each entry the files of its whole
 * root) and answers a symbol with its file plus that file's transitive dependencies. Health's
 * entries therefore carry the compiled Stateward files too; the health service is listed because
 * its file is among them, SessionState because the compiled file declares it.
 */
function reflectionDefinition(): PackageDefinition {
  // health.proto lives at <root>/health/v1/health.proto inside grpc-health-check.
  const healthRoot = path.resolve(path.dirname(healthProtoPath), "../..");
  const health = loadSync(HEALTH_PROTO, { includeDirs: [healthRoot], keepCase: true });
  const protosOf = (value: unknown): Buffer[] | undefined => {
    const protos = (value as { fileDescriptorProtos?: unknown }).fileDescriptorProtos;
    return Array.isArray(protos) ? (protos as Buffer[]) : undefined;
  };
  // Every entry lists the same files (health.proto's root): take them once.
  const healthFiles = Object.values(health).map(protosOf).find((protos) => protos !== undefined) ?? [];
  const files = [...healthFiles.map(withProtocMapEntryNames), ...statewardFiles()];
  const out: PackageDefinition = {};
  for (const [name, value] of Object.entries(health)) {
    out[name] = protosOf(value) === undefined ? value : ({ ...value, fileDescriptorProtos: files } as typeof value);
  }
  return out;
}

/**
 * Registers the reflection service (v1 and v1alpha) for SessionState and Health on `server`.
 * @param guard - with an auth file: reflection then needs a valid principal (it tells what the
 *   server offers, not session data, so any principal may use it).
 */
export function addReflectionService(server: Server, guard?: AccessGuard): void {
  const target: Pick<Server, "addService"> =
    guard === undefined
      ? server
      : {
          addService: (service: ServiceDefinition, implementation: UntypedServiceImplementation) =>
            server.addService(service, guard.authenticatedOnly(implementation, "ServerReflection")),
        };
  new ReflectionService(reflectionDefinition()).addToServer(target);
}
