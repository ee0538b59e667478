export * from "./errors.js";
export * from "./types.js";
export { HttpAvatarRenderer, parseRetryAfter } from "./http.js";
export { MockAvatarRenderer } from "./mock.js";
export { newIdempotencyKey, sha256Hex } from "./util.js";
export { verifyWebhook, WEBHOOK_TOLERANCE_SECONDS } from "./webhooks.js";
