import { WebhookVerificationError } from "./errors.js";
import { ownBytes } from "./util.js";
export const WEBHOOK_TOLERANCE_SECONDS = 5 * 60;
function base64Bytes(text) {
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text))
        return undefined;
    const padded = text + "=".repeat((4 - (text.length % 4)) % 4);
    try {
        return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
    }
    catch {
        return undefined;
    }
}
function headerOf(headers, name) {
    if (headers instanceof Headers)
        return headers.get(name) ?? "";
    const key = Object.keys(headers).find((k) => k.toLowerCase() === name);
    return key === undefined ? "" : (headers[key] ?? "");
}
function sameBytes(a, b) {
    let diff = a.length ^ b.length;
    for (let i = 0; i < Math.max(a.length, b.length); i++)
        diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
    return diff === 0;
}
export async function verifyWebhook(payload, headers, secret, options = {}) {
    const secrets = typeof secret === "string" ? [secret] : [...secret];
    const keys = secrets.map((s) => base64Bytes(s.replace(/^whsec_/, "")));
    if (keys.length === 0 || keys.some((key) => key === undefined || key.length === 0)) {
        throw new TypeError("a webhook secret is whsec_ followed by base64");
    }
    const id = headerOf(headers, "webhook-id");
    const timestamp = headerOf(headers, "webhook-timestamp");
    const signatures = headerOf(headers, "webhook-signature");
    if (!id || !timestamp || !signatures) {
        throw new WebhookVerificationError("missing webhook-id, webhook-timestamp or webhook-signature");
    }
    if (!/^[0-9]+$/.test(timestamp)) {
        throw new WebhookVerificationError(`webhook-timestamp ${JSON.stringify(timestamp.slice(0, 40))} is not unix seconds`);
    }
    const tolerance = options.toleranceSeconds ?? WEBHOOK_TOLERANCE_SECONDS;
    const skew = Number(timestamp) - (options.now ?? Date.now() / 1000);
    if (skew < -tolerance)
        throw new WebhookVerificationError(`webhook-timestamp is ${Math.round(-skew)} s old (replayed?)`);
    if (skew > tolerance)
        throw new WebhookVerificationError(`webhook-timestamp is ${Math.round(skew)} s in the future`);
    const body = typeof payload === "string"
        ? new TextEncoder().encode(payload)
        : payload instanceof Uint8Array
            ? ownBytes(payload)
            : new Uint8Array(payload);
    const prefix = new TextEncoder().encode(`${id}.${timestamp}.`);
    const signed = new Uint8Array(prefix.length + body.length);
    signed.set(prefix);
    signed.set(body, prefix.length);
    const given = signatures
        .split(" ")
        .filter((item) => item.startsWith("v1,"))
        .map((item) => base64Bytes(item.slice(3)))
        .filter((bytes) => bytes !== undefined);
    let matched = false;
    for (const key of keys) {
        const hmacKey = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
        const expected = new Uint8Array(await crypto.subtle.sign("HMAC", hmacKey, signed));
        for (const signature of given)
            matched = sameBytes(expected, signature) || matched;
    }
    if (!matched)
        throw new WebhookVerificationError("no signature matches the secret");
    try {
        return JSON.parse(new TextDecoder().decode(body));
    }
    catch (error) {
        throw new WebhookVerificationError("the signed body is not JSON", { cause: error });
    }
}
