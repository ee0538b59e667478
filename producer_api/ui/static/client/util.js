import { IntegrityError, WaitTimeoutError } from "./errors.js";
import { isTerminal } from "./types.js";
export function sleep(ms, signal) {
    return new Promise((resolve, reject) => {
        if (signal?.aborted) {
            reject(signal.reason);
            return;
        }
        const onAbort = () => {
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
export function ownBytes(data) {
    return data.buffer instanceof ArrayBuffer
        ? data
        : new Uint8Array(data);
}
export async function toBytes(input) {
    if (input instanceof Uint8Array)
        return ownBytes(input);
    if (input instanceof ArrayBuffer)
        return new Uint8Array(input);
    return new Uint8Array(await input.arrayBuffer());
}
export function toBlob(input) {
    if (input instanceof Blob)
        return input;
    if (input instanceof ArrayBuffer)
        return new Blob([input]);
    return new Blob([ownBytes(input)]);
}
export async function sha256Hex(data) {
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", ownBytes(data)));
    let hex = "";
    for (const byte of digest)
        hex += byte.toString(16).padStart(2, "0");
    return hex;
}
export async function verifyEntry(data, entry, what) {
    if (data.byteLength !== entry.size) {
        throw new IntegrityError(`${what}: ${data.byteLength} bytes where the manifest says ${entry.size} (${entry.key})`);
    }
    const actual = await sha256Hex(data);
    if (actual !== entry.sha256.toLowerCase()) {
        throw new IntegrityError(`${what}: sha256 ${actual} where the manifest says ${entry.sha256} (${entry.key})`);
    }
}
export function newIdempotencyKey() {
    if (typeof crypto.randomUUID === "function")
        return crypto.randomUUID();
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
function progressKey(job) {
    return [job.status, job.attempts, job.progress.frames_done, job.cancel_requested].join("/");
}
export async function pollUntilFinished(jobId, read, options, defaultIntervalMs) {
    const { signal, onProgress, timeoutMs } = options;
    signal?.throwIfAborted();
    const interval = options.pollIntervalMs ?? defaultIntervalMs;
    const inner = new AbortController();
    const forward = () => inner.abort(signal?.reason);
    signal?.addEventListener("abort", forward, { once: true });
    const timer = timeoutMs === undefined
        ? undefined
        : setTimeout(() => inner.abort(new WaitTimeoutError(`job ${jobId} not finished after ${timeoutMs} ms`)), timeoutMs);
    try {
        let last;
        for (;;) {
            inner.signal.throwIfAborted();
            const job = await read(inner.signal);
            const seen = progressKey(job);
            if (seen !== last) {
                last = seen;
                onProgress?.(job);
            }
            if (isTerminal(job.status))
                return job;
            await sleep(interval, inner.signal);
        }
    }
    catch (error) {
        if (inner.signal.aborted)
            throw inner.signal.reason;
        throw error;
    }
    finally {
        clearTimeout(timer);
        signal?.removeEventListener("abort", forward);
    }
}
