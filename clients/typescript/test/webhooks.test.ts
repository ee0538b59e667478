/**
 * verifyWebhook against signatures made by Python's `standardwebhooks` package (the
 * vectors below) and by node:crypto: accepted as signed, refused when the body, the
 * secret, the id or the time is wrong.
 */

import assert from "node:assert/strict";
import { createHmac, randomBytes } from "node:crypto";
import { describe, it } from "node:test";

import { AvatarRenderError, verifyWebhook, WebhookVerificationError } from "../src/index.js";

// Made with: Webhook(SECRET).sign(ID, datetime.fromtimestamp(TIMESTAMP, UTC), BODY)
const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const OLD_SECRET = "whsec_dGhlIG9sZCBzZWNyZXQgb2YgdGhlIGVuZHBvaW50";
const ID = "1764403200123-0";
const TIMESTAMP = 1764403201;
const BODY =
  '{"id":"1764403200123-0","type":"render.succeeded","time":"2026-11-29T08:00:00.123456+00:00",' +
  '"render_id":"3f9d","data":{"attempt":1,"manifest_key":"renders/3f9d/1/manifest.json","note":"é"}}';
const SIGNATURE = "v1,R3Xoh+SOUb1zl1c46Acyv6nQduZCTBE+oONWrkVTpW0=";
const OLD_SIGNATURE = "v1,TV1RogwiKOJ2/FMnU1p9TKTDfqGlQsRpnO8wtkunWhg=";

const headers = (signature = SIGNATURE, timestamp = TIMESTAMP, id = ID): Record<string, string> => ({
  "Webhook-Id": id,
  "Webhook-Timestamp": String(timestamp),
  "Webhook-Signature": signature,
});
const at = { now: TIMESTAMP + 1 };

async function refused(promise: Promise<unknown>, reason: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof WebhookVerificationError && error instanceof AvatarRenderError);
    assert.match(error.message, reason);
    return true;
  });
}

describe("verifyWebhook", () => {
  it("accepts what standardwebhooks signed, as text, bytes or Headers", async () => {
    const event = await verifyWebhook(BODY, headers(), SECRET, at);
    assert.equal(event.id, ID);
    assert.ok(event.type === "render.succeeded" && event.data.manifest_key === "renders/3f9d/1/manifest.json");
    assert.deepEqual(await verifyWebhook(new TextEncoder().encode(BODY), new Headers(headers()), SECRET, at), event);
    // A rotation: both signatures while the grace lasts; either secret verifies.
    const both = headers(`${SIGNATURE} ${OLD_SIGNATURE}`);
    assert.deepEqual(await verifyWebhook(BODY, both, OLD_SECRET, at), event);
    assert.deepEqual(await verifyWebhook(BODY, both, ["whsec_AAAA", SECRET], at), event);
    // Unknown versions and garbage among the signatures are skipped.
    assert.deepEqual(await verifyWebhook(BODY, headers(`v2,abc v1,!!! ${SIGNATURE}`), SECRET, at), event);
  });

  it("agrees with an HMAC made by node:crypto, now", async () => {
    const key = randomBytes(24);
    const secret = `whsec_${key.toString("base64")}`;
    const now = Math.floor(Date.now() / 1000);
    const mac = createHmac("sha256", key).update(`${ID}.${now}.${BODY}`).digest("base64");
    assert.equal((await verifyWebhook(BODY, headers(`v1,${mac}`, now), secret)).id, ID);
  });

  it("refuses a tampered body, a wrong secret, another id, a stale or future timestamp", async () => {
    await refused(verifyWebhook(BODY.replace('"attempt":1', '"attempt":2'), headers(), SECRET, at), /no signature/);
    await refused(verifyWebhook(BODY, headers(), OLD_SECRET, at), /no signature/);
    await refused(verifyWebhook(BODY, headers(SIGNATURE, TIMESTAMP, "1764403200124-0"), SECRET, at), /no signature/);
    await refused(verifyWebhook(BODY, headers(), SECRET, { now: TIMESTAMP + 301 }), /old/);
    await refused(verifyWebhook(BODY, headers(), SECRET, { now: TIMESTAMP - 301 }), /future/);
    await refused(verifyWebhook(BODY, headers(), SECRET), /old/); // signed in 2025
    await refused(verifyWebhook(BODY, { "webhook-id": ID }, SECRET, at), /missing/);
    await refused(verifyWebhook(BODY, headers(SIGNATURE, Number.NaN), SECRET, at), /unix seconds/);
    await assert.rejects(verifyWebhook(BODY, headers(), "whsec_not base64!", at), TypeError);
    await assert.rejects(verifyWebhook(BODY, headers(), [], at), TypeError);
  });
});
