/**
 * gRPC server reflection (`grpcurl list`, `grpcurl describe`) over the repository's own .proto
 * files plus the health proto shipped with `grpc-health-check`.
 */
import path from "node:path";
import type { Server } from "@grpc/grpc-js";
import { loadSync, type PackageDefinition } from "@grpc/proto-loader";
import { ReflectionService } from "@grpc/reflection";
import { protoPath as healthProtoPath } from "grpc-health-check";
import {
  FileDescriptorProto,
  type IDescriptorProto,
  type IFileDescriptorProto,
} from "protobufjs/ext/descriptor";

/**
 * The repository's proto root. This file runs as server/dist/grpc/*.js after a build and as
 * server/src/grpc/*.ts under tsx; both sit three levels below the repository root.
 */
export const PROTO_ROOT = path.resolve(__dirname, "../../../proto");

/** Path of the SessionState contract relative to {@link PROTO_ROOT} (also its name in descriptors). */
export const SESSION_STATE_PROTO = "stateward/v1/session_state.proto";

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
 * map, so the descriptors are corrected before they are served.
 */
function withProtocMapEntryNames(definition: PackageDefinition): PackageDefinition {
  const fixed = new Map<Buffer, Buffer>();
  const fix = (encoded: Buffer): Buffer => {
    let result = fixed.get(encoded);
    if (result === undefined) {
      const file = FileDescriptorProto.decode(encoded) as IFileDescriptorProto;
      const scope = file.package === undefined || file.package === "" ? "" : `.${file.package}`;
      for (const message of file.messageType ?? []) fixMessage(message, scope);
      result = Buffer.from(FileDescriptorProto.encode(file).finish());
      fixed.set(encoded, result);
    }
    return result;
  };
  const out: PackageDefinition = {};
  for (const [name, value] of Object.entries(definition)) {
    const protos = (value as { fileDescriptorProtos?: unknown }).fileDescriptorProtos;
    out[name] = Array.isArray(protos) ? ({ ...value, fileDescriptorProtos: (protos as Buffer[]).map(fix) } as typeof value) : value;
  }
  return out;
}

/** Registers the reflection service (v1 and v1alpha) for SessionState and Health on `server`. */
export function addReflectionService(server: Server): void {
  // health.proto lives at <root>/health/v1/health.proto inside grpc-health-check.
  const healthRoot = path.resolve(path.dirname(healthProtoPath), "../..");
  const definition = loadSync([SESSION_STATE_PROTO, HEALTH_PROTO], {
    includeDirs: [PROTO_ROOT, healthRoot],
    // Descriptors must carry the .proto field names (session_id), not camelCase, for JSON clients.
    keepCase: true,
  });
  new ReflectionService(withProtocMapEntryNames(definition)).addToServer(server);
}
