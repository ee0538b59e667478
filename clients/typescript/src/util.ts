/** Helpers both adapters share. Web-platform APIs only (Node 20 and browsers). */

import { IntegrityError, WaitTimeoutError } from "./errors.js";
import type { PortraitInput, WaitOptions } from "./renderer.js";
import { isTerminal, type Job, type ObjectEntry } from "./types.js";

/** @internal Resolve after `ms`; reject with the signal's reason when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, Math.max(0, ms));
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** @internal Bytes backed by a plain ArrayBuffer (what Blob and Web Crypto accept). */
export function ownBytes(data: Uint8Array): Uint8Array<ArrayBuffer> {
  return data.buffer instanceof ArrayBuffer
    ? (data as Uint8Array<ArrayBuffer>)
    : new Uint8Array(data);
}

/** @internal */
export async function toBytes(input: PortraitInput): Promise<Uint8Array<ArrayBuffer>> {
  if (input instanceof Uint8Array) return ownBytes(input);
  if (input instanceof ArrayBuffer) return new Uint8Array(input);
  return new Uint8Array(await input.arrayBuffer());
}

/** @internal */
export function toBlob(input: PortraitInput): Blob {
  if (input instanceof Blob) return input;
  if (input instanceof ArrayBuffer) return new Blob([input]);
  return new Blob([ownBytes(input)]);
}

/** Lower-case hex sha256 through Web Crypto. */
export async function sha256Hex(data: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", ownBytes(data)));
  let hex = "";
  for (const byte of digest) hex += byte.toString(16).padStart(2, "0");
  return hex;
}

/** @internal Throw IntegrityError unless `data` has the manifest entry's size and sha256. */
export async function verifyEntry(data: Uint8Array, entry: ObjectEntry, what: string): Promise<void> {
  if (data.byteLength !== entry.size) {
    throw new IntegrityError(
      `${what}: ${data.byteLength} bytes where the manifest says ${entry.size} (${entry.key})`,
    );
  }
  const actual = await sha256Hex(data);
  if (actual !== entry.sha256.toLowerCase()) {
    throw new IntegrityError(
      `${what}: sha256 ${actual} where the manifest says ${entry.sha256} (${entry.key})`,
    );
  }
}

/** A fresh Idempotency-Key (a random UUID). */
export function newIdempotencyKey(): string {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function progressKey(job: Job): string {
  return [job.status, job.attempts, job.progress.frames_done, job.cancel_requested].join("/");
}

/** @internal
 * The waitFor loop both adapters use: read the job until it is terminal, report each
 * change, honour the caller's signal and the timeout (which also aborts a read in
 * flight).
 */
export async function pollUntilFinished(
  jobId: string,
  read: (signal: AbortSignal) => Promise<Job>,
  options: WaitOptions,
  defaultIntervalMs: number,
): Promise<Job> {
  const { signal, onProgress, timeoutMs } = options;
  signal?.throwIfAborted();
  const interval = options.pollIntervalMs ?? defaultIntervalMs;
  const inner = new AbortController();
  const forward = (): void => inner.abort(signal?.reason);
  signal?.addEventListener("abort", forward, { once: true });
  const timer =
    timeoutMs === undefined
      ? undefined
      : setTimeout(
          () => inner.abort(new WaitTimeoutError(`job ${jobId} not finished after ${timeoutMs} ms`)),
          timeoutMs,
        );
  try {
    let last: string | undefined;
    for (;;) {
      inner.signal.throwIfAborted();
      const job = await read(inner.signal);
      const seen = progressKey(job);
      if (seen !== last) {
        last = seen;
        onProgress?.(job);
      }
      if (isTerminal(job.status)) return job;
      await sleep(interval, inner.signal);
    }
  } catch (error) {
    if (inner.signal.aborted) throw inner.signal.reason;
    throw error;
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", forward);
  }
}
