/** Error codes map to classes; Retry-After parses. No server needed. */

import assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
  apiError,
  AvatarRenderError,
  BadRequestError,
  CharacterNotFoundError,
  ConflictError,
  errorClassFor,
  IdempotencyKeyReusedError,
  NotFoundError,
  NotReadyError,
  parseRetryAfter,
  QueueUnavailableError,
  TransientError,
  UnauthorizedError,
  ValidationError,
  InvalidInputError,
  InvalidJsonError,
  MethodNotAllowedError,
  OverloadedError,
  QueueFullError,
  RateLimitedError,
  ThrottledError,
} from "../src/index.js";

describe("errors", () => {
  it("maps the API's codes to classes, keeping code and status", () => {
    const cases: [string, number, abstract new (...args: never[]) => AvatarRenderError][] = [
      ["bad_request", 400, BadRequestError],
      ["invalid_json", 400, InvalidJsonError],
      ["unauthorized", 401, UnauthorizedError],
      ["not_found", 404, NotFoundError],
      ["character_not_found", 404, CharacterNotFoundError],
      ["conflict", 409, ConflictError],
      ["not_ready", 409, NotReadyError],
      ["idempotency_key_reused", 409, IdempotencyKeyReusedError],
      ["invalid_request", 422, ValidationError],
      ["method_not_allowed", 405, MethodNotAllowedError],
      ["queue_unavailable", 503, QueueUnavailableError],
      ["queue_full", 429, QueueFullError],
      ["rate_limited", 429, RateLimitedError],
      ["throttled", 429, ThrottledError],
      ["overloaded", 503, OverloadedError],
    ];
    for (const [code, status, cls] of cases) {
      const error = apiError(code, "message", { status });
      assert.ok(error instanceof cls, code);
      assert.ok(error instanceof AvatarRenderError);
      assert.ok(error instanceof Error);
      assert.equal(error.code, code);
      assert.equal(error.status, status);
      assert.equal(error.name, cls.name);
      assert.equal(error.message, "message");
    }
    assert.ok(apiError("character_not_found", "m") instanceof NotFoundError);
    assert.ok(apiError("invalid_json", "m") instanceof BadRequestError);
    assert.equal(apiError("invalid_json", "m").status, 400, "the class's own status");
    assert.equal(apiError("bad_request", "m").retryable, false);
    assert.ok(apiError("invalid_request", "m") instanceof InvalidInputError);
    assert.ok(apiError("queue_unavailable", "m") instanceof TransientError);
    assert.equal(apiError("queue_unavailable", "m").retryable, true);
    assert.equal(apiError("not_found", "m").retryable, false);
  });

  it("maps an unknown code to the base class with the code kept", () => {
    const error = apiError("brand_new_code", "later", { status: 418 });
    assert.equal(error.constructor, AvatarRenderError);
    assert.equal(error.code, "brand_new_code");
    assert.equal(error.status, 418);
    assert.equal(errorClassFor("brand_new_code"), AvatarRenderError);
  });

  it("parses Retry-After as seconds or an HTTP date", () => {
    assert.equal(parseRetryAfter(null), undefined);
    assert.equal(parseRetryAfter(""), undefined);
    assert.equal(parseRetryAfter("3"), 3000);
    assert.equal(parseRetryAfter("0.5"), 500);
    const now = Date.parse("2025-01-01T00:00:00Z");
    assert.equal(parseRetryAfter("Wed, 01 Jan 2025 00:00:02 GMT", now), 2000);
    assert.equal(parseRetryAfter("Tue, 31 Dec 2024 23:00:00 GMT", now), 0);
    assert.equal(parseRetryAfter("soon"), undefined);
  });
});
