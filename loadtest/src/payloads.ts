/**
 * Payload sizes: a fixed size or a uniform distribution between two sizes. Payloads are views into
 * one random buffer made once, so the generator allocates nothing per request.
 */
import { randomBytes } from "node:crypto";

/** A payload size or a uniform size range, bytes. */
export interface PayloadSpec {
  readonly minBytes: number;
  readonly maxBytes: number;
}

/** Parses `1024`, `1KiB`, `1-16KiB`, `1KiB-16KiB`, `512-4096`. */
export function parsePayloadSpec(text: string): PayloadSpec {
  const parts = text.trim().split("-");
  if (parts.length > 2 || parts.some((part) => part.trim() === "")) {
    throw new Error(`payload "${text}": expected a size (1024, 1KiB) or a range (1-16KiB)`);
  }
  const last = parts[parts.length - 1] ?? "";
  const unit = /[a-z]+$/i.exec(last.trim())?.[0] ?? "";
  const sizes = parts.map((part) => {
    const trimmed = part.trim();
    return parseSize(/[a-z]$/i.test(trimmed) ? trimmed : `${trimmed}${unit}`, text);
  });
  const minBytes = sizes[0] ?? 0;
  const maxBytes = sizes[sizes.length - 1] ?? 0;
  if (minBytes > maxBytes) throw new Error(`payload "${text}": the range must go up`);
  return { minBytes, maxBytes };
}

const UNITS: Readonly<Record<string, number>> = { "": 1, b: 1, kib: 1024, kb: 1000, mib: 1024 * 1024, mb: 1_000_000 };

function parseSize(text: string, whole: string): number {
  const match = /^([0-9]+)\s*([a-z]*)$/i.exec(text);
  const unit = match === null ? undefined : UNITS[(match[2] ?? "").toLowerCase()];
  if (match === null || unit === undefined) throw new Error(`payload "${whole}": cannot read the size "${text}"`);
  const bytes = Number(match[1]) * unit;
  if (!Number.isSafeInteger(bytes) || bytes > 64 * 1024 * 1024) throw new Error(`payload "${whole}": size out of range`);
  return bytes;
}

/** Human form of a spec: `1 KiB` or `1–16 KiB`. */
export function formatPayloadSpec(spec: PayloadSpec): string {
  const format = (bytes: number): string => (bytes % 1024 === 0 && bytes > 0 ? `${bytes / 1024} KiB` : `${bytes} B`);
  return spec.minBytes === spec.maxBytes ? format(spec.minBytes) : `${format(spec.minBytes)}–${format(spec.maxBytes)}`;
}

/** Draws payloads of a {@link PayloadSpec}. */
export class PayloadSource {
  private readonly pool: Buffer;

  constructor(private readonly spec: PayloadSpec) {
    // Twice the largest size so that views can start at different offsets.
    this.pool = randomBytes(Math.max(1, spec.maxBytes * 2));
  }

  /** The mean payload size, bytes. */
  get meanBytes(): number {
    return (this.spec.minBytes + this.spec.maxBytes) / 2;
  }

  /** A payload; `random` in [0, 1) picks the size (and offset). */
  next(random: number = Math.random()): Buffer {
    const { minBytes, maxBytes } = this.spec;
    const size = minBytes + Math.floor(random * (maxBytes - minBytes + 1));
    const offset = Math.floor(random * maxBytes) % Math.max(1, this.pool.length - size + 1);
    return this.pool.subarray(offset, offset + size);
  }
}
