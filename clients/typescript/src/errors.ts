/**
 * Typed errors. The API answers every error as `{"error": {"code", "message"}}`; each
 * code it uses has a class here (mirroring `render_core/errors.py`, plus the codes the
 * routes pass explicitly), so callers can `catch (e) { if (e instanceof NotFoundError) … }`.
 * A code this client does not know maps to the base class, with the code kept.
 *
 * Client-side failures (network, integrity, wait timeout) are classes too, with
 * `status` 0. An aborted call rejects with the signal's reason (an `AbortError`), as
 * `fetch` does.
 */

export interface AvatarRenderErrorOptions {
  /** The API's error code; defaults to the class's own. */
  code?: string;
  /** The HTTP status; defaults to the class's own (0 for client-side errors). */
  status?: number;
  /** Milliseconds the server asked us to wait (Retry-After), when it said. */
  retryAfterMs?: number;
  cause?: unknown;
}

export class AvatarRenderError extends Error {
  /** The code this class stands for; subclasses override it. */
  static readonly code: string = "error";
  /** The HTTP status this class usually comes with. */
  static readonly status: number = 0;

  /** The API's error code, e.g. `not_found`, `invalid_request`. */
  readonly code: string;
  /** The HTTP status of the response (0 when no response was involved). */
  readonly status: number;
  readonly retryAfterMs: number | undefined;

  constructor(message: string, options: AvatarRenderErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    const own = new.target as typeof AvatarRenderError;
    this.name = new.target.name;
    this.code = options.code ?? own.code;
    this.status = options.status ?? own.status;
    this.retryAfterMs = options.retryAfterMs;
  }

  /** Whether trying the same call again later may succeed. */
  get retryable(): boolean {
    return this.status === 429 || this.status === 503 || this instanceof TransientError;
  }
}

// 400: the body could not be read at all (before any rule was checked)
/** The request could not be parsed (e.g. a broken multipart form): 400 `bad_request`. */
export class BadRequestError extends AvatarRenderError {
  static override readonly code: string = "bad_request";
  static override readonly status: number = 400;
}
/** The body is not valid JSON: 400 `invalid_json`. */
export class InvalidJsonError extends BadRequestError {
  static override readonly code: string = "invalid_json";
}
/** A WHEP offer that is not SDP, or asks for nothing the server sends: 400 `invalid_sdp`. */
export class InvalidSdpError extends BadRequestError {
  static override readonly code: string = "invalid_sdp";
}

// 401
export class UnauthorizedError extends AvatarRenderError {
  static override readonly code: string = "unauthorized";
  static override readonly status: number = 401;
}

// 404: unknown id, or another tenant's
export class NotFoundError extends AvatarRenderError {
  static override readonly code: string = "not_found";
  static override readonly status: number = 404;
}
export class CharacterNotFoundError extends NotFoundError {
  static override readonly code: string = "character_not_found";
}
export class DrivingVideoNotFoundError extends NotFoundError {
  static override readonly code: string = "driving_video_not_found";
}

// 405
export class MethodNotAllowedError extends AvatarRenderError {
  static override readonly code: string = "method_not_allowed";
  static override readonly status: number = 405;
}

// 409: the resource is in the wrong state for that
export class ConflictError extends AvatarRenderError {
  static override readonly code: string = "conflict";
  static override readonly status: number = 409;
}
/** The render has not succeeded (yet): it has no outputs. */
export class NotReadyError extends ConflictError {
  static override readonly code: string = "not_ready";
}
export class IllegalTransitionError extends ConflictError {
  static override readonly code: string = "illegal_transition";
}
/** The Idempotency-Key was used before with a different request body. */
export class IdempotencyKeyReusedError extends ConflictError {
  static override readonly code: string = "idempotency_key_reused";
}
/** A request with this Idempotency-Key is still being handled. */
export class IdempotencyInProgressError extends ConflictError {
  static override readonly code: string = "idempotency_in_progress";
}
/** A live (WHEP) view of a render that failed, was cancelled or stores no frames. */
export class NotPlayableError extends ConflictError {
  static override readonly code: string = "not_playable";
}

// 410
export class OutputsExpiredError extends AvatarRenderError {
  static override readonly code: string = "outputs_expired";
  static override readonly status: number = 410;
}
/** The events after that Last-Event-ID are past the retention: start a stream without it. */
export class EventsExpiredError extends AvatarRenderError {
  static override readonly code: string = "events_expired";
  static override readonly status: number = 410;
}

// 429: a limit of the tenant; `retryAfterMs` says when to try again
/** A limit of the tenant refused the submission (a batch counts as its size, refused whole). */
export class ThrottledError extends AvatarRenderError {
  static override readonly code: string = "throttled";
  static override readonly status: number = 429;
}
/** The tenant already has as many renders queued or running as it may. */
export class QueueFullError extends ThrottledError {
  static override readonly code: string = "queue_full";
}
/** The tenant submits faster than its rate allows. */
export class RateLimitedError extends ThrottledError {
  static override readonly code: string = "rate_limited";
}

// 4xx: the client sent something the API cannot use
export class InvalidInputError extends AvatarRenderError {
  static override readonly code: string = "invalid_input";
  static override readonly status: number = 422;
}
/** The request failed validation (unknown emotion, intensity out of range, …). */
export class ValidationError extends InvalidInputError {
  static override readonly code: string = "invalid_request";
}
export class UnsupportedImageError extends InvalidInputError {
  static override readonly code: string = "unsupported_image";
  static override readonly status: number = 415;
}
export class ImageTooLargeError extends InvalidInputError {
  static override readonly code: string = "image_too_large";
  static override readonly status: number = 413;
}
export class NoFaceFoundError extends InvalidInputError {
  static override readonly code: string = "no_face_found";
}
export class EmptyFileError extends InvalidInputError {
  static override readonly code: string = "empty_file";
  static override readonly status: number = 415;
}
export class UnsupportedVideoError extends InvalidInputError {
  static override readonly code: string = "unsupported_video";
  static override readonly status: number = 415;
}
export class VideoTooLargeError extends InvalidInputError {
  static override readonly code: string = "video_too_large";
  static override readonly status: number = 413;
}
export class VideoTooLongError extends InvalidInputError {
  static override readonly code: string = "video_too_long";
}
export class VideoTooManyFramesError extends InvalidInputError {
  static override readonly code: string = "video_too_many_frames";
}
export class NoVideoStreamError extends InvalidInputError {
  static override readonly code: string = "no_video_stream";
}
export class NoVideoFramesError extends InvalidInputError {
  static override readonly code: string = "no_video_frames";
}
/** The body is not of the media type the route takes (a WHEP offer: application/sdp). */
export class UnsupportedMediaTypeError extends InvalidInputError {
  static override readonly code: string = "unsupported_media_type";
  static override readonly status: number = 415;
}
/** A WHEP offer over 64 KiB. */
export class OfferTooLargeError extends InvalidInputError {
  static override readonly code: string = "offer_too_large";
  static override readonly status: number = 413;
}
/** The webhook URL is not https, or resolves to a private or loopback address. */
export class WebhookUrlRefusedError extends InvalidInputError {
  static override readonly code: string = "webhook_url_refused";
}

// 5xx
export class InternalError extends AvatarRenderError {
  static override readonly code: string = "internal_error";
  static override readonly status: number = 500;
}
/** A passing fault on the server side: retrying later can help. */
export class TransientError extends AvatarRenderError {
  static override readonly code: string = "transient_error";
  static override readonly status: number = 503;
}
export class QueueUnavailableError extends TransientError {
  static override readonly code: string = "queue_unavailable";
}
export class StorageUnavailableError extends TransientError {
  static override readonly code: string = "storage_unavailable";
}
/** The server holds as many live (WHEP) sessions as it may: retry after Retry-After. */
export class TooManySessionsError extends TransientError {
  static override readonly code: string = "too_many_sessions";
}
/**
 * The farm is too busy: an interactive render would wait longer than allowed to start.
 * Retry after `retryAfterMs`, or submit it with `priority: "batch"`.
 */
export class OverloadedError extends TransientError {
  static override readonly code: string = "overloaded";
}

// client side (status 0)
/** The server could not be reached, or the connection broke. */
export class NetworkError extends AvatarRenderError {
  static override readonly code: string = "network_error";
}
/** Downloaded bytes do not match the manifest's size or sha256. */
export class IntegrityError extends AvatarRenderError {
  static override readonly code: string = "integrity_error";
}
/** `waitFor` ran past its `timeoutMs`; the job itself goes on. */
export class WaitTimeoutError extends AvatarRenderError {
  static override readonly code: string = "wait_timeout";
}
/** A response that does not follow the contract (e.g. not JSON where JSON was due). */
export class UnexpectedResponseError extends AvatarRenderError {
  static override readonly code: string = "unexpected_response";
}
/**
 * A webhook delivery failed `verifyWebhook`: a missing header, no signature made with
 * the secret, or a timestamp outside the tolerance. Answer it with a 4xx and ignore it.
 */
export class WebhookVerificationError extends AvatarRenderError {
  static override readonly code: string = "webhook_verification_failed";
}

type ErrorClass = typeof AvatarRenderError;

const API_ERRORS: readonly ErrorClass[] = [
  BadRequestError,
  InvalidJsonError,
  InvalidSdpError,
  UnauthorizedError,
  NotFoundError,
  CharacterNotFoundError,
  DrivingVideoNotFoundError,
  MethodNotAllowedError,
  ConflictError,
  NotReadyError,
  IllegalTransitionError,
  IdempotencyKeyReusedError,
  IdempotencyInProgressError,
  NotPlayableError,
  OutputsExpiredError,
  EventsExpiredError,
  ThrottledError,
  QueueFullError,
  RateLimitedError,
  InvalidInputError,
  ValidationError,
  UnsupportedImageError,
  ImageTooLargeError,
  NoFaceFoundError,
  EmptyFileError,
  UnsupportedVideoError,
  VideoTooLargeError,
  VideoTooLongError,
  VideoTooManyFramesError,
  NoVideoStreamError,
  NoVideoFramesError,
  UnsupportedMediaTypeError,
  OfferTooLargeError,
  WebhookUrlRefusedError,
  InternalError,
  TransientError,
  QueueUnavailableError,
  StorageUnavailableError,
  TooManySessionsError,
  OverloadedError,
];

const BY_CODE: ReadonlyMap<string, ErrorClass> = new Map(API_ERRORS.map((cls) => [cls.code, cls]));

/** The class the API's `code` stands for; the base class for a code we do not know. */
export function errorClassFor(code: string): ErrorClass {
  return BY_CODE.get(code) ?? AvatarRenderError;
}

/** Build the typed error for an API error code (status defaults to the class's own). */
export function apiError(
  code: string,
  message: string,
  options: Omit<AvatarRenderErrorOptions, "code"> = {},
): AvatarRenderError {
  const cls = errorClassFor(code);
  return new cls(message, { ...options, code });
}
