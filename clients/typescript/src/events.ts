/**
 * Event streams: `EventStream` (what `events()` and `renderEvents()` return on both
 * adapters) and the HTTP adapter's reader over `fetch` streaming. EventSource cannot
 * send an Authorization header, so the stream is read from `response.body` and parsed
 * here, in Node 20 and browsers alike. It resumes by itself: when the connection drops
 * or the server ends the stream it reconnects with `Last-Event-ID` of the last event
 * handed out, after the server's `retry:`, so each event comes once, in order.
 */

import { AvatarRenderError, NetworkError, UnexpectedResponseError } from "./errors.js";
import type { RenderEventStream } from "./renderer.js";
import { SseParser, type SseMessage } from "./sse.js";
import { compareEventIds, isTerminalEvent, type RenderEvent } from "./types.js";
import { sleep } from "./util.js";

/** @internal An event, or `undefined` once a connection is open (for `connect()`). */
export type EventSource = AsyncGenerator<RenderEvent | undefined, void, undefined>;

/** @internal */
export class EventStream implements RenderEventStream {
  private readonly pending: RenderEvent[] = [];
  private connected = false;
  lastEventId: string | undefined;

  constructor(
    private readonly source: EventSource,
    lastEventId?: string,
  ) {
    this.lastEventId = lastEventId;
  }

  async connect(): Promise<this> {
    while (!this.connected) {
      const next = await this.source.next();
      if (next.done) break;
      if (next.value === undefined) this.connected = true;
      else this.pending.push(next.value);
    }
    return this;
  }

  async close(): Promise<void> {
    await this.source.return(undefined);
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<RenderEvent, void, undefined> {
    try {
      for (;;) {
        let event = this.pending.shift();
        while (event === undefined) {
          const next = await this.source.next();
          if (next.done) return;
          if (next.value === undefined) this.connected = true;
          else event = next.value;
        }
        this.lastEventId = event.id;
        yield event;
      }
    } finally {
      await this.close();
    }
  }
}

/** @internal What the HTTP adapter gives the reader. */
export interface HttpStreamSpec {
  url: string;
  headers: Record<string, string>;
  fetch: (input: string, init?: RequestInit) => Promise<Response>;
  readError: (response: Response) => Promise<AvatarRenderError>;
  backoffMs: (failures: number) => number;
  endsAtTerminal: boolean;
  lastEventId: string | undefined;
  signal: AbortSignal | undefined;
  idleTimeoutMs: number;
  reconnectForMs: number;
}

/** The reconnection delay until the server says otherwise (its `retry:`). */
export const DEFAULT_RETRY_MS = 2000;
/** Longer than the server's keep-alive (15 s): a connection silent this long is dead. */
export const DEFAULT_IDLE_TIMEOUT_MS = 45_000;
/** How long reconnecting may keep failing before the stream throws. */
export const DEFAULT_RECONNECT_FOR_MS = 120_000;
const TRANSIENT: ReadonlySet<number> = new Set([429, 502, 503, 504]);

function parseEvent(message: SseMessage): RenderEvent {
  try {
    return JSON.parse(message.data) as RenderEvent;
  } catch (error) {
    throw new UnexpectedResponseError(`an event stream message is not JSON: ${message.data.slice(0, 200)}`, {
      status: 200,
      cause: error,
    });
  }
}

/** @internal Follow an SSE endpoint of the API; see the module comment. */
export async function* followHttp(spec: HttpStreamSpec): EventSource {
  const { signal } = spec;
  let lastId = spec.lastEventId;
  let retryMs = DEFAULT_RETRY_MS;
  let failures = 0;
  let failingSince = 0;
  for (;;) {
    signal?.throwIfAborted();
    const connection = new AbortController();
    const forward = (): void => connection.abort(signal?.reason);
    signal?.addEventListener("abort", forward, { once: true });
    let outcome: Response | Error;
    try {
      const headers: Record<string, string> = {
        ...spec.headers,
        Accept: "text/event-stream",
        "Cache-Control": "no-cache",
      };
      if (lastId !== undefined) headers["Last-Event-ID"] = lastId;
      outcome = await spec.fetch(spec.url, { headers, signal: connection.signal });
    } catch (error) {
      outcome = error instanceof Error ? error : new Error(String(error));
    }
    try {
      if (outcome instanceof Response && outcome.status === 200 && outcome.body !== null) {
        failures = 0;
        yield undefined;
        const reader = outcome.body.getReader();
        // Aborting (the caller's signal, the idle timer, the end) ends a pending read too,
        // whatever fetch does with its own signal.
        const stop = (): void => void reader.cancel().catch(() => undefined);
        connection.signal.addEventListener("abort", stop, { once: true });
        const parser = new SseParser();
        let ended = false;
        let idle: ReturnType<typeof setTimeout> | undefined;
        try {
          while (!ended) {
            idle = setTimeout(() => connection.abort(new NetworkError("no data within the idle timeout")), spec.idleTimeoutMs);
            const { value, done } = await reader.read();
            clearTimeout(idle);
            if (done) break;
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
        } catch (error) {
          if (signal?.aborted) throw signal.reason;
          if (error instanceof UnexpectedResponseError) throw error;
          // the connection broke, or went silent: reconnect below
        } finally {
          clearTimeout(idle);
          connection.abort();
          retryMs = parser.retryMs ?? retryMs;
        }
        if (ended) return;
        await sleep(retryMs, signal);
        continue;
      }
      if (signal?.aborted) throw signal.reason;
      if (outcome instanceof Response && outcome.status === 204) return; // resumed after the end
      const error = outcome instanceof Response ? await spec.readError(outcome) : outcome;
      if (outcome instanceof Response && !TRANSIENT.has(outcome.status)) throw error;
      failures += 1;
      failingSince = failures === 1 ? Date.now() : failingSince;
      if (Date.now() - failingSince >= spec.reconnectForMs) {
        if (outcome instanceof Response) throw error;
        throw new NetworkError(`GET ${spec.url}: ${error.message} (after ${failures} attempts)`, { cause: error });
      }
      const retryAfter = error instanceof AvatarRenderError ? error.retryAfterMs : undefined;
      await sleep(retryAfter ?? Math.max(retryMs, spec.backoffMs(failures)), signal);
    } finally {
      signal?.removeEventListener("abort", forward);
    }
  }
}
