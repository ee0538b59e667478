import { AvatarRenderError, NetworkError, UnexpectedResponseError } from "./errors.js";
import { SseParser } from "./sse.js";
import { compareEventIds, isTerminalEvent } from "./types.js";
import { sleep } from "./util.js";
export class EventStream {
    source;
    pending = [];
    connected = false;
    lastEventId;
    constructor(source, lastEventId) {
        this.source = source;
        this.lastEventId = lastEventId;
    }
    async connect() {
        while (!this.connected) {
            const next = await this.source.next();
            if (next.done)
                break;
            if (next.value === undefined)
                this.connected = true;
            else
                this.pending.push(next.value);
        }
        return this;
    }
    async close() {
        await this.source.return(undefined);
    }
    async *[Symbol.asyncIterator]() {
        try {
            for (;;) {
                let event = this.pending.shift();
                while (event === undefined) {
                    const next = await this.source.next();
                    if (next.done)
                        return;
                    if (next.value === undefined)
                        this.connected = true;
                    else
                        event = next.value;
                }
                this.lastEventId = event.id;
                yield event;
            }
        }
        finally {
            await this.close();
        }
    }
}
export const DEFAULT_RETRY_MS = 2000;
export const DEFAULT_IDLE_TIMEOUT_MS = 45_000;
export const DEFAULT_RECONNECT_FOR_MS = 120_000;
const TRANSIENT = new Set([429, 502, 503, 504]);
function parseEvent(message) {
    try {
        return JSON.parse(message.data);
    }
    catch (error) {
        throw new UnexpectedResponseError(`an event stream message is not JSON: ${message.data.slice(0, 200)}`, {
            status: 200,
            cause: error,
        });
    }
}
export async function* followHttp(spec) {
    const { signal } = spec;
    let lastId = spec.lastEventId;
    let retryMs = DEFAULT_RETRY_MS;
    let failures = 0;
    let failingSince = 0;
    for (;;) {
        signal?.throwIfAborted();
        const connection = new AbortController();
        const forward = () => connection.abort(signal?.reason);
        signal?.addEventListener("abort", forward, { once: true });
        let outcome;
        try {
            const headers = {
                ...spec.headers,
                Accept: "text/event-stream",
                "Cache-Control": "no-cache",
            };
            if (lastId !== undefined)
                headers["Last-Event-ID"] = lastId;
            outcome = await spec.fetch(spec.url, { headers, signal: connection.signal });
        }
        catch (error) {
            outcome = error instanceof Error ? error : new Error(String(error));
        }
        try {
            if (outcome instanceof Response && outcome.status === 200 && outcome.body !== null) {
                failures = 0;
                yield undefined;
                const reader = outcome.body.getReader();
                const stop = () => void reader.cancel().catch(() => undefined);
                connection.signal.addEventListener("abort", stop, { once: true });
                const parser = new SseParser();
                let ended = false;
                let idle;
                try {
                    while (!ended) {
                        idle = setTimeout(() => connection.abort(new NetworkError("no data within the idle timeout")), spec.idleTimeoutMs);
                        const { value, done } = await reader.read();
                        clearTimeout(idle);
                        if (done)
                            break;
                        for (const message of parser.feed(value)) {
                            const event = parseEvent(message);
                            if (lastId === undefined || compareEventIds(event.id, lastId) > 0) {
                                lastId = event.id;
                                yield event;
                            }
                            if (spec.endsAtTerminal && isTerminalEvent(event)) {
                                ended = true;
                                break;
                            }
                        }
                    }
                }
                catch (error) {
                    if (signal?.aborted)
                        throw signal.reason;
                    if (error instanceof UnexpectedResponseError)
                        throw error;
                }
                finally {
                    clearTimeout(idle);
                    connection.abort();
                    retryMs = parser.retryMs ?? retryMs;
                }
                if (ended)
                    return;
                await sleep(retryMs, signal);
                continue;
            }
            if (signal?.aborted)
                throw signal.reason;
            if (outcome instanceof Response && outcome.status === 204)
                return;
            const error = outcome instanceof Response ? await spec.readError(outcome) : outcome;
            if (outcome instanceof Response && !TRANSIENT.has(outcome.status))
                throw error;
            failures += 1;
            failingSince = failures === 1 ? Date.now() : failingSince;
            if (Date.now() - failingSince >= spec.reconnectForMs) {
                if (outcome instanceof Response)
                    throw error;
                throw new NetworkError(`GET ${spec.url}: ${error.message} (after ${failures} attempts)`, { cause: error });
            }
            const retryAfter = error instanceof AvatarRenderError ? error.retryAfterMs : undefined;
            await sleep(retryAfter ?? Math.max(retryMs, spec.backoffMs(failures)), signal);
        }
        finally {
            signal?.removeEventListener("abort", forward);
        }
    }
}
