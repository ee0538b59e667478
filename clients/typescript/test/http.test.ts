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
  HttpAvatarRenderer,
  InvalidJsonError,
  NotFoundError,
  UnauthorizedError,
  type Character,
  type FetchLike,
} from "../src/index.js";
import { behaviourSuite, rejectsWith, SAMPLE_PORTRAIT, SHORT } from "./behaviour.js";

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
