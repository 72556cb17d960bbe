/**
 * Keeps secrets (the options config.ts marks `secret`) out of the OpenTelemetry resource, which
 * every exported span and metric carries. Two layers:
 * - the process detector's `process.command_args` has the value after each secret flag
 *   (`--session-hash-key <key>` or `--session-hash-key=<key>`) replaced, so the command line is
 *   still there for operators, without the key;
 * - every attribute of every detector (OTEL_RESOURCE_ATTRIBUTES included) has any occurrence of a
 *   configured secret value replaced, whatever way it got there.
 */
import type { AnyValue } from "@opentelemetry/api";
import { processDetector, type DetectedResourceAttributes, type ResourceDetector } from "@opentelemetry/resources";

/** What a secret is replaced with. */
export const REDACTED = "[redacted]";

/**
 * `args` with the value of each secret flag replaced.
 * @param secretFlags - the flags (`--session-hash-key`) whose values are secrets.
 */
export function redactArgs(args: readonly string[], secretFlags: readonly string[]): string[] {
  const redacted: string[] = [];
  let valueFollows = false;
  for (const arg of args) {
    if (valueFollows) {
      redacted.push(REDACTED);
      valueFollows = false;
      continue;
    }
    const flag = secretFlags.find((candidate) => arg === candidate || arg.startsWith(`${candidate}=`));
    if (flag === undefined) redacted.push(arg);
    else if (arg === flag) {
      redacted.push(arg);
      valueFollows = true;
    } else redacted.push(`${flag}=${REDACTED}`);
  }
  return redacted;
}

/** `value` with every occurrence of a secret replaced, through arrays and maps. */
export function redactValue(value: AnyValue, secrets: readonly string[]): AnyValue {
  if (typeof value === "string") return secrets.reduce((text, secret) => text.split(secret).join(REDACTED), value);
  if (Array.isArray(value)) return value.map((item) => redactValue(item, secrets));
  if (value !== null && typeof value === "object" && !(value instanceof Uint8Array)) {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, redactValue(item, secrets)]));
  }
  return value;
}

/** `detector`, with every attribute value (also those detected later, as promises) redacted. */
export function redactingDetector(detector: ResourceDetector, secrets: readonly string[]): ResourceDetector {
  return {
    detect(config) {
      const attributes = detector.detect(config).attributes;
      if (attributes === undefined || secrets.length === 0) return { attributes };
      const redacted: DetectedResourceAttributes = {};
      for (const [key, value] of Object.entries(attributes)) {
        redacted[key] =
          value instanceof Promise
            ? value.then((resolved) => (resolved === undefined ? undefined : redactValue(resolved, secrets)))
            : value === undefined
              ? undefined
              : redactValue(value, secrets);
      }
      return { attributes: redacted };
    },
  };
}

/** OpenTelemetry's process detector, with the values of `secretFlags` out of `process.command_args`. */
export function redactedProcessDetector(secretFlags: readonly string[]): ResourceDetector {
  return {
    detect(config) {
      const attributes = { ...processDetector.detect(config).attributes };
      const args = attributes["process.command_args"];
      if (Array.isArray(args)) attributes["process.command_args"] = redactArgs(args.map(String), secretFlags);
      return { attributes };
    },
  };
}
