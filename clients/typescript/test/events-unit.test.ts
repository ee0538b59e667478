/**
 * The SSE parser, and HttpAvatarRenderer's event streams against a scripted fetch: they
 * resume after a cut (mid-message too) or an end with Last-Event-ID, drop replayed
 * events, honour retry: and Retry-After, stop at 204, throw a 410 and reopen a silent
 * connection. No server needed.
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { EventsExpiredError, HttpAvatarRenderer, type FetchLike, type RenderEvent } from "../src/index.js";
import { SseParser, type SseMessage } from "../src/sse.js";

const encode = (text: string): Uint8Array => new TextEncoder().encode(text);

const STREAM = encode(
  "\ufeffretry: 2500\r\n\r\n: keep-alive\n\n" +
    'id: 1-0\ndata: {"a": 1,\ndata:  "b": "é"}\n\n' +
    "id: 2-0\r\nevent: custom\r\ndata\r\n\r\n" +
    "id: 3-0\rdata: last\r\r" +
    "id: 4-0\ndata: cut off",
);

function parse(chunks: Uint8Array[]): { messages: SseMessage[]; parser: SseParser } {
  const parser = new SseParser();
  return { messages: chunks.flatMap((chunk) => parser.feed(chunk)), parser };
}

function frame(id: string, type = "render.progress"): string {
  const event = { id, type, time: "2026-01-01T00:00:00+00:00", render_id: "r1", data: {} };
  return `id: ${id}\ndata: ${JSON.stringify(event)}\n\n`;
}

/** A body that sends `chunks`, then ends, or breaks off when `cut`. */
function body(chunks: string[], end: "end" | "cut" | "hang" = "end"): ReadableStream<Uint8Array> {
  const left = [...chunks];
  return new ReadableStream({
    pull(controller): Promise<void> | undefined {
      const chunk = left.shift();
      if (chunk !== undefined) controller.enqueue(encode(chunk));
      else if (end === "end") controller.close();
      else if (end === "cut") controller.error(new TypeError("terminated"));
      else return new Promise<void>(() => undefined); // silent, connection open
      return undefined;
    },
  });
}

function scripted(answers: (() => Response)[]): { fetch: FetchLike; resumedFrom: (string | undefined)[]; at: number[] } {
  const resumedFrom: (string | undefined)[] = [];
  const at: number[] = [];
  const fetch: FetchLike = async (_url, init) => {
    const headers = init?.headers as Record<string, string>;
    resumedFrom.push(headers["Last-Event-ID"]);
    at.push(Date.now());
    const next = answers.shift();
    if (next === undefined) throw new Error("no more scripted answers");
    return next();
  };
  return { fetch, resumedFrom, at };
}

const client = (fetch: FetchLike): HttpAvatarRenderer =>
  new HttpAvatarRenderer({ baseUrl: "http://api.test", apiKey: "k", fetch, retryBaseDelayMs: 5 });

async function ids(stream: AsyncIterable<RenderEvent>, count = Infinity): Promise<string[]> {
  const seen: string[] = [];
  for await (const event of stream) {
    seen.push(event.id);
    if (seen.length >= count) break;
  }
  return seen;
}

describe("SseParser", () => {
  it("gives the same messages whatever the chunks", () => {
    const whole = parse([STREAM]);
    assert.deepEqual(whole.messages, [
      { data: '{"a": 1,\n "b": "é"}', id: "1-0", event: "message" },
      { data: "", id: "2-0", event: "custom" },
      { data: "last", id: "3-0", event: "message" },
    ]);
    assert.equal(whole.parser.retryMs, 2500);
    assert.equal(whole.parser.lastId, "4-0"); // its message never ended: not dispatched
    const bytewise = parse(Array.from(STREAM, (byte) => Uint8Array.of(byte)));
    assert.deepEqual(bytewise.messages, whole.messages);
    for (let cut = 0; cut < STREAM.length; cut++) {
      assert.deepEqual(parse([STREAM.subarray(0, cut), STREAM.subarray(cut)]).messages, whole.messages, `cut at ${cut}`);
    }
  });
});

describe("HttpAvatarRenderer event streams (scripted fetch)", () => {
  it("resumes after a cut mid-message, a 503 and a replay, and ends after the terminal event", async () => {
    const half = frame("3-0").slice(0, 20);
    const script = scripted([
      () => new Response(body(["retry: 10\n\n", frame("1-0", "render.state"), frame("2-0"), half], "cut")),
      () =>
        new Response(JSON.stringify({ error: { code: "queue_unavailable", message: "x" } }), {
          status: 503,
          headers: { "retry-after": "0" },
        }),
      () => new Response(body([frame("1-0"), frame("2-0"), frame("3-0")])), // a replay: repeats dropped
      () => new Response(body([frame("4-0", "render.succeeded"), frame("5-0")])),
    ]);
    assert.deepEqual(await ids(client(script.fetch).renderEvents("r1")), ["1-0", "2-0", "3-0", "4-0"]);
    assert.deepEqual(script.resumedFrom, [undefined, "2-0", "2-0", "3-0"]);
    assert.ok(script.at[3]! - script.at[2]! < 1000, "waited the server's retry: (10 ms), not 2 s");

    const ended = scripted([() => new Response(body(["retry: 1\n\n", frame("7-0")])), () => new Response(null, { status: 204 })]);
    assert.deepEqual(await ids(client(ended.fetch).renderEvents("r1")), ["7-0"]);
    assert.deepEqual(ended.resumedFrom, [undefined, "7-0"]);
  });

  it("throws EventsExpiredError for a 410 and reopens a connection that went silent", async () => {
    const expired = scripted([
      () => new Response(JSON.stringify({ error: { code: "events_expired", message: "gone" } }), { status: 410 }),
    ]);
    await assert.rejects(client(expired.fetch).events({ lastEventId: "1-0" }).connect(), EventsExpiredError);

    const silent = scripted([
      () => new Response(body(["retry: 1\n\n", frame("1-0")], "hang")),
      () => new Response(body([frame("2-0")], "hang")),
    ]);
    const stream = client(silent.fetch).events({ idleTimeoutMs: 50, types: ["render.progress"], renderId: "r1" });
    assert.deepEqual(await ids(stream, 2), ["1-0", "2-0"]);
    assert.deepEqual(silent.resumedFrom, [undefined, "1-0"]);
    assert.equal(stream.lastEventId, "2-0");
  });

  it("stops when its signal aborts", async () => {
    const controller = new AbortController();
    const script = scripted([() => new Response(body(["retry: 1\n\n", frame("1-0")], "hang"))]);
    const seen: string[] = [];
    await assert.rejects(
      (async () => {
        for await (const event of client(script.fetch).events({ signal: controller.signal })) {
          seen.push(event.id);
          controller.abort();
        }
      })(),
      { name: "AbortError" },
    );
    assert.deepEqual(seen, ["1-0"]);
  });
});
