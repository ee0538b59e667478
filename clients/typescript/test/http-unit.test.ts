/** HttpAvatarRenderer against a scripted fetch: retries, Retry-After, Idempotency-Key, errors. */

import assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
  HttpAvatarRenderer,
  NetworkError,
  QueueUnavailableError,
  UnauthorizedError,
  AvatarRenderError,
  BadRequestError,
  InvalidJsonError,
  type FetchLike,
} from "../src/index.js";
import { rejectsWith } from "./behaviour.js";

interface Call {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: string | undefined;
  at: number;
}

const JOB = { id: "j1", status: "queued" };

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

/** A fetch that answers from a script, one entry a call, and records the calls. */
function scripted(script: (() => Response)[]): { fetch: FetchLike; calls: Call[] } {
  const calls: Call[] = [];
  const fetch: FetchLike = async (url, init) => {
    calls.push({
      url,
      method: init?.method ?? "GET",
      headers: { ...(init?.headers as Record<string, string>) },
      body: typeof init?.body === "string" ? init.body : undefined,
      at: Date.now(),
    });
    const next = script.shift();
    if (next === undefined) throw new Error("no more scripted answers");
    return next();
  };
  return { fetch, calls };
}

const unavailable = (retryAfter?: string): Response =>
  json(
    503,
    { error: { code: "queue_unavailable", message: "the queue is unavailable; retry later" } },
    retryAfter === undefined ? {} : { "retry-after": retryAfter },
  );

describe("HttpAvatarRenderer (scripted fetch)", () => {
  it("retries a submission after 503, honouring Retry-After, with the same Idempotency-Key", async () => {
    const { fetch, calls } = scripted([() => unavailable("0.2"), () => unavailable("0"), () => json(202, JOB)]);
    const client = new HttpAvatarRenderer({ baseUrl: "http://api.test/", apiKey: "k", fetch });
    const job = await client.renderEmotion("c1", "happy", 0.5, { duration_ms: 400 });
    assert.deepEqual(job, JOB);
    assert.equal(calls.length, 3);
    const keys = calls.map((call) => call.headers["Idempotency-Key"]);
    assert.ok(keys[0] && keys[0].length >= 16);
    assert.deepEqual(keys, [keys[0], keys[0], keys[0]]);
    assert.ok(calls[1]!.at - calls[0]!.at >= 180, "waited Retry-After (0.2 s)");
    assert.equal(calls[0]!.url, "http://api.test/v1/renders");
    assert.equal(calls[0]!.method, "POST");
    assert.equal(calls[0]!.headers["Authorization"], "Bearer k");
    assert.deepEqual(JSON.parse(calls[0]!.body!), {
      duration_ms: 400,
      character_id: "c1",
      emotion: "happy",
      intensity: 0.5,
    });
  });

  it("makes a new key for each submission, and uses the caller's when given", async () => {
    const { fetch, calls } = scripted([() => json(202, JOB), () => json(202, JOB), () => json(202, { jobs: [JOB] })]);
    const client = new HttpAvatarRenderer({ baseUrl: "http://api.test", fetch });
    await client.renderEmotion("c1", "happy", 0.5);
    await client.renderEmotion("c1", "happy", 0.5);
    await client.renderBatch([{ character_id: "c1", emotion: "sad" }], { idempotencyKey: "mine" });
    const [a, b, c] = calls.map((call) => call.headers["Idempotency-Key"]);
    assert.notEqual(a, b);
    assert.equal(c, "mine");
    assert.equal(calls[0]!.headers["Authorization"], undefined, "no key, no header");
  });

  it("retries 429 after an HTTP-date Retry-After", async () => {
    const soon = new Date(Date.now() + 1000).toUTCString(); // whole seconds: up to 1 s
    const { fetch, calls } = scripted([
      () => json(429, { error: { code: "rate_limited", message: "slow down" } }, { "retry-after": soon }),
      () => json(200, JOB),
    ]);
    const client = new HttpAvatarRenderer({ baseUrl: "http://api.test", fetch });
    assert.deepEqual(await client.getStatus("j1"), JOB);
    assert.equal(calls.length, 2);
  });

  it("gives up after maxRetries with the typed error", async () => {
    const { fetch, calls } = scripted([() => unavailable("0"), () => unavailable("0"), () => unavailable("0")]);
    const client = new HttpAvatarRenderer({ baseUrl: "http://api.test", fetch, maxRetries: 2 });
    const error = await rejectsWith(client.renderBatch([{ character_id: "c", emotion: "sad" }]), QueueUnavailableError);
    assert.equal(error.status, 503);
    assert.equal(error.retryable, true);
    assert.equal(calls.length, 3);
  });

  it("retries network errors on safe calls only", async () => {
    const down = (): Response => {
      throw new TypeError("fetch failed");
    };
    const safe = scripted([down, () => json(200, JOB)]);
    const client = new HttpAvatarRenderer({ baseUrl: "http://api.test", fetch: safe.fetch, retryBaseDelayMs: 1 });
    assert.deepEqual(await client.getStatus("j1"), JOB);
    const unsafe = scripted([down, () => json(202, JOB)]);
    const other = new HttpAvatarRenderer({ baseUrl: "http://api.test", fetch: unsafe.fetch, retryBaseDelayMs: 1 });
    await rejectsWith(other.retry("j1"), NetworkError);
    assert.equal(unsafe.calls.length, 1);
  });

  it("does not retry other errors; non-JSON errors keep their status", async () => {
    const { fetch, calls } = scripted([
      () => json(401, { error: { code: "unauthorized", message: "unknown API key" } }, { "www-authenticate": "Bearer" }),
      () => new Response("Internal Server Error", { status: 500 }),
    ]);
    const client = new HttpAvatarRenderer({ baseUrl: "http://api.test", fetch });
    const unauthorized = await rejectsWith(client.getStatus("j1"), UnauthorizedError);
    assert.equal(unauthorized.message, "unknown API key");
    const internal = await rejectsWith(client.getStatus("j1"), AvatarRenderError);
    assert.equal(internal.status, 500);
    assert.equal(internal.code, "http_error");
    assert.equal(calls.length, 2);
  });

  it("maps 400 invalid_json to InvalidJsonError (a BadRequestError), without retrying", async () => {
    const { fetch, calls } = scripted([
      () => json(400, { error: { code: "invalid_json", message: "the body is not valid JSON" } }),
    ]);
    const client = new HttpAvatarRenderer({ baseUrl: "http://api.test", fetch });
    const error = await rejectsWith(client.renderEmotion("c1", "happy", 0.5), InvalidJsonError);
    assert.ok(error instanceof BadRequestError);
    assert.equal(error.status, 400);
    assert.equal(error.code, "invalid_json");
    assert.equal(error.message, "the body is not valid JSON");
    assert.equal(calls.length, 1);
  });

  it("sends a webp request with its quality, and a driving-video request, as typed", async () => {
    const { fetch, calls } = scripted([() => json(202, JOB), () => json(202, { jobs: [JOB] })]);
    const client = new HttpAvatarRenderer({ baseUrl: "http://api.test", fetch });
    await client.renderEmotion("c1", "sad", 0.3, { frame_format: "jpeg", quality: 60, metadata: { take: 2, live: false } });
    await client.renderBatch([{ character_id: "c1", driving_video_id: "v1", frame_format: "webp" }]);
    assert.deepEqual(JSON.parse(calls[0]!.body!), {
      frame_format: "jpeg",
      quality: 60,
      metadata: { take: 2, live: false },
      character_id: "c1",
      emotion: "sad",
      intensity: 0.3,
    });
    assert.deepEqual(JSON.parse(calls[1]!.body!), {
      requests: [{ character_id: "c1", driving_video_id: "v1", frame_format: "webp" }],
    });
  });

  it("aborts a retry wait when the signal aborts", async () => {
    const { fetch } = scripted([() => unavailable("30")]);
    const client = new HttpAvatarRenderer({ baseUrl: "http://api.test", fetch });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 20);
    await assert.rejects(client.getStatus("j1", { signal: controller.signal }), { name: "AbortError" });
  });

  it("reports an API it cannot reach as not alive", async () => {
    const client = new HttpAvatarRenderer({ baseUrl: "http://127.0.0.1:9", maxRetries: 0 });
    const health = await client.healthCheck();
    assert.equal(health.alive, false);
    assert.equal(health.ready, false);
    assert.ok(health.detail);
  });
});
