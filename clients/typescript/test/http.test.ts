/**
 * The behaviour suite on HttpAvatarRenderer against a running stack (Redis, a mock
 * worker, the API), which scripts/test_clients_ts starts. Configured by:
 *   AVATAR_RENDER_URL            the API (without /v1); without it these tests skip
 *   AVATAR_RENDER_API_KEY        a tenant's key
 *   AVATAR_RENDER_OTHER_API_KEY  another tenant's key (optional)
 *   AVATAR_RENDER_FAULTS=1       the worker runs with RENDER_MOCK_FAULTS=true
 *   AVATAR_RENDER_REQUIRE_HTTP=1 fail, rather than skip, without AVATAR_RENDER_URL
 */

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { before, describe, it } from "node:test";

import {
  BadRequestError,
  EventsExpiredError,
  HttpAvatarRenderer,
  InvalidJsonError,
  NotFoundError,
  UnauthorizedError,
  type Character,
  type FetchLike,
} from "../src/index.js";
import { behaviourSuite, LONG, rejectsWith, SAMPLE_PORTRAIT, SHORT } from "./behaviour.js";
import { assertIncreasing, untilTerminal } from "./behaviour-events.js";

/**
 * A fetch whose event streams break off after every `every` messages, halfway through a
 * chunk, with the server's retry: made 50 ms; it notes each stream's Last-Event-ID.
 */
function cutting(every: number): { fetch: FetchLike; resumedFrom: (string | undefined)[] } {
  const resumedFrom: (string | undefined)[] = [];
  const fetch: FetchLike = async (input, init) => {
    const response = await globalThis.fetch(input, init);
    if (!new URL(input).pathname.endsWith("/events") || response.body === null) return response;
    resumedFrom.push(new Headers(init?.headers).get("Last-Event-ID") ?? undefined);
    const reader = response.body.getReader();
    let messages = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        const { value, done } = await reader.read();
        if (done) return controller.close();
        const text = new TextDecoder().decode(value);
        messages += text.split("data:").length - 1;
        if (messages < every) return controller.enqueue(new TextEncoder().encode(text.replace("retry: 2000", "retry: 50")));
        controller.enqueue(value.subarray(0, Math.floor(value.length / 2)));
        await reader.cancel();
        controller.error(new TypeError("connection cut by the test"));
      },
      cancel: () => reader.cancel(),
    });
    return new Response(body, { status: response.status, headers: response.headers });
  };
  return { fetch, resumedFrom };
}

const url = process.env["AVATAR_RENDER_URL"];
const apiKey = process.env["AVATAR_RENDER_API_KEY"];
const otherKey = process.env["AVATAR_RENDER_OTHER_API_KEY"];
if (!url && process.env["AVATAR_RENDER_REQUIRE_HTTP"] === "1") {
  throw new Error("AVATAR_RENDER_URL is not set: no stack to test the HTTP client against");
}
const skip = url ? false : "AVATAR_RENDER_URL is not set (scripts/test_clients_ts starts a stack)";

const client = (key = apiKey, fetch?: FetchLike): HttpAvatarRenderer =>
  new HttpAvatarRenderer({
    baseUrl: url ?? "http://127.0.0.1:9",
    ...(key === undefined ? {} : { apiKey: key }),
    ...(fetch === undefined ? {} : { fetch }),
    pollIntervalMs: 50,
  });

if (url) {
  behaviourSuite("HttpAvatarRenderer", () => client(), {
    faults: process.env["AVATAR_RENDER_FAULTS"] === "1",
    pollIntervalMs: 50,
  });
}

describe("HttpAvatarRenderer on the real API", { skip }, () => {
  let character: Character;

  before(async () => {
    character = await client().registerCharacter(new Blob([readFileSync(SAMPLE_PORTRAIT)]), "blob");
  });

  it("refuses a wrong API key with UnauthorizedError (401)", async () => {
    const stranger = client("not-a-key");
    const error = await rejectsWith(stranger.getStatus("0123456789abcdef0123456789abcdef"), UnauthorizedError);
    assert.equal(error.status, 401);
    assert.equal(error.code, "unauthorized");
    await rejectsWith(stranger.registerCharacter(readFileSync(SAMPLE_PORTRAIT)), UnauthorizedError);
    await rejectsWith(client("").renderEmotion(character.id, "happy", 0.5, SHORT), UnauthorizedError);
  });

  it("hides one tenant's jobs from another (NotFoundError)", { skip: otherKey ? false : "no second key" }, async () => {
    const job = await client().renderEmotion(character.id, "happy", 0.5, SHORT);
    await rejectsWith(client(otherKey).getStatus(job.id), NotFoundError);
    await client().waitFor(job.id, { timeoutMs: 60_000 });
  });

  it("serves frames at frameUrl to a caller with the key", async () => {
    const http = client();
    const job = await http.waitFor((await http.renderEmotion(character.id, "sad", 0.4, SHORT)).id, { timeoutMs: 60_000 });
    const response = await fetch(http.frameUrl(job.id, 0), { headers: { Authorization: `Bearer ${apiKey}` } });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("content-type"), "image/png");
    const bytes = new Uint8Array(await response.arrayBuffer());
    assert.deepEqual(bytes, await http.downloadFrame(job.id, 0));
  });

  it("maps the API's 400s: invalid_json for a broken JSON body, bad_request for a broken form", async () => {
    // fetches that break the body on its way out, as a faulty proxy would
    const brokenJson: FetchLike = (input, init) => fetch(input, { ...init, body: '{"character_id": ' });
    const invalid = await rejectsWith(
      client(apiKey, brokenJson).renderEmotion(character.id, "happy", 0.5, SHORT),
      InvalidJsonError,
    );
    assert.ok(invalid instanceof BadRequestError);
    assert.equal(invalid.status, 400);
    assert.equal(invalid.code, "invalid_json");

    const brokenForm: FetchLike = (input, init) => {
      const headers = new Headers(init?.headers);
      headers.set("Content-Type", "multipart/form-data; boundary=xyz");
      return fetch(input, { ...init, headers, body: "not a multipart body" });
    };
    const bad = await rejectsWith(client(apiKey, brokenForm).registerCharacter(readFileSync(SAMPLE_PORTRAIT)), BadRequestError);
    assert.ok(!(bad instanceof InvalidJsonError));
    assert.equal(bad.status, 400);
    assert.equal(bad.code, "bad_request");
  });

  it("resumes an event stream cut mid-message with no gap and no duplicate", async () => {
    const { fetch: cut, resumedFrom } = cutting(3);
    const http = client(apiKey, cut);
    const stream = await http.events().connect();
    const job = await http.renderEmotion(character.id, "happy", 0.9, LONG);
    const seen = await untilTerminal(stream, job.id);
    // queued, started, 3 progress events (batches of 16 frames), succeeded: 2 cuts at least
    assert.ok(resumedFrom.length >= 3, `reconnected ${resumedFrom.length - 1} times`);
    assert.equal(resumedFrom[0], undefined);
    const ids = seen.map((event) => event.id);
    assert.ok(resumedFrom.slice(1).every((id) => id !== undefined && ids.includes(id)));
    // The whole log of the render, replayed from the start without cuts: the same events.
    const replay = await untilTerminal(client().events({ renderId: job.id, lastEventId: "0-0" }), job.id);
    assert.deepEqual(ids, replay.map((event) => event.id));
    assert.deepEqual(seen.map((event) => event.type).slice(0, 2), ["render.queued", "render.started"]);
    assertIncreasing(seen);
  });

  it("refuses a resume point past the retention with EventsExpiredError (410)", async () => {
    const error = await rejectsWith(client().events({ lastEventId: "1000-0" }).connect(), EventsExpiredError);
    assert.equal(error.status, 410);
    assert.equal(error.code, "events_expired");
  });

  it("sends the same Idempotency-Key again when a submission is retried after 503", async () => {
    const keys: (string | undefined)[] = [];
    let first = true;
    const flaky: FetchLike = async (input, init) => {
      keys.push(new Headers(init?.headers).get("Idempotency-Key") ?? undefined);
      if (first) {
        first = false;
        // As a load balancer would answer, before the request reaches the API.
        return new Response(JSON.stringify({ error: { code: "queue_unavailable", message: "busy" } }), {
          status: 503,
          headers: { "retry-after": "0" },
        });
      }
      return fetch(input, init);
    };
    const http = client(apiKey, flaky);
    const job = await http.renderEmotion(character.id, "neutral", 0.1, SHORT);
    assert.equal(keys.length, 2);
    assert.ok(keys[0]);
    assert.equal(keys[1], keys[0]);
    assert.equal((await http.waitFor(job.id, { timeoutMs: 60_000 })).status, "succeeded");
  });
});
