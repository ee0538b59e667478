/**
 * @avatar-render/client: a typed client for the avatar-render API.
 *
 * - `HttpAvatarRenderer`: the real API over fetch (Node 20+, browsers).
 * - `MockAvatarRenderer`: in memory and deterministic, for unit tests.
 * Both implement `IAvatarRenderer` (event streams included) and throw the same error
 * classes. `verifyWebhook` checks the signature of a webhook delivery.
 */

export * from "./errors.js";
export * from "./types.js";
export type {
  CallOptions,
  DownloadOptions,
  EventsOptions,
  HealthStatus,
  IAvatarRenderer,
  ListOptions,
  PortraitInput,
  RenderEventsOptions,
  RenderEventStream,
  RenderOptions,
  RenderParams,
  SubmitOptions,
  WaitOptions,
} from "./renderer.js";
export { HttpAvatarRenderer, parseRetryAfter } from "./http.js";
export type { FetchLike, HttpAvatarRendererOptions } from "./http.js";
export { MockAvatarRenderer } from "./mock.js";
export type { MockAvatarRendererOptions } from "./mock.js";
export { newIdempotencyKey, sha256Hex } from "./util.js";
export { verifyWebhook, WEBHOOK_TOLERANCE_SECONDS } from "./webhooks.js";
export type { VerifyWebhookOptions } from "./webhooks.js";
export type { components, paths, operations } from "./generated/openapi.js";
