export class AvatarRenderError extends Error {
    static code = "error";
    static status = 0;
    code;
    status;
    retryAfterMs;
    constructor(message, options = {}) {
        super(message, options.cause === undefined ? undefined : { cause: options.cause });
        const own = new.target;
        this.name = new.target.name;
        this.code = options.code ?? own.code;
        this.status = options.status ?? own.status;
        this.retryAfterMs = options.retryAfterMs;
    }
    get retryable() {
        return this.status === 429 || this.status === 503 || this instanceof TransientError;
    }
}
export class BadRequestError extends AvatarRenderError {
    static code = "bad_request";
    static status = 400;
}
export class InvalidJsonError extends BadRequestError {
    static code = "invalid_json";
}
export class InvalidSdpError extends BadRequestError {
    static code = "invalid_sdp";
}
export class UnauthorizedError extends AvatarRenderError {
    static code = "unauthorized";
    static status = 401;
}
export class NotFoundError extends AvatarRenderError {
    static code = "not_found";
    static status = 404;
}
export class CharacterNotFoundError extends NotFoundError {
    static code = "character_not_found";
}
export class DrivingVideoNotFoundError extends NotFoundError {
    static code = "driving_video_not_found";
}
export class MethodNotAllowedError extends AvatarRenderError {
    static code = "method_not_allowed";
    static status = 405;
}
export class ConflictError extends AvatarRenderError {
    static code = "conflict";
    static status = 409;
}
export class NotReadyError extends ConflictError {
    static code = "not_ready";
}
export class IllegalTransitionError extends ConflictError {
    static code = "illegal_transition";
}
export class IdempotencyKeyReusedError extends ConflictError {
    static code = "idempotency_key_reused";
}
export class IdempotencyInProgressError extends ConflictError {
    static code = "idempotency_in_progress";
}
export class NotPlayableError extends ConflictError {
    static code = "not_playable";
}
export class OutputsExpiredError extends AvatarRenderError {
    static code = "outputs_expired";
    static status = 410;
}
export class EventsExpiredError extends AvatarRenderError {
    static code = "events_expired";
    static status = 410;
}
export class ThrottledError extends AvatarRenderError {
    static code = "throttled";
    static status = 429;
}
export class QueueFullError extends ThrottledError {
    static code = "queue_full";
}
export class RateLimitedError extends ThrottledError {
    static code = "rate_limited";
}
export class InvalidInputError extends AvatarRenderError {
    static code = "invalid_input";
    static status = 422;
}
export class ValidationError extends InvalidInputError {
    static code = "invalid_request";
}
export class UnsupportedImageError extends InvalidInputError {
    static code = "unsupported_image";
    static status = 415;
}
export class ImageTooLargeError extends InvalidInputError {
    static code = "image_too_large";
    static status = 413;
}
export class NoFaceFoundError extends InvalidInputError {
    static code = "no_face_found";
}
export class EmptyFileError extends InvalidInputError {
    static code = "empty_file";
    static status = 415;
}
export class UnsupportedVideoError extends InvalidInputError {
    static code = "unsupported_video";
    static status = 415;
}
export class VideoTooLargeError extends InvalidInputError {
    static code = "video_too_large";
    static status = 413;
}
export class VideoTooLongError extends InvalidInputError {
    static code = "video_too_long";
}
export class VideoTooManyFramesError extends InvalidInputError {
    static code = "video_too_many_frames";
}
export class NoVideoStreamError extends InvalidInputError {
    static code = "no_video_stream";
}
export class NoVideoFramesError extends InvalidInputError {
    static code = "no_video_frames";
}
export class UnsupportedMediaTypeError extends InvalidInputError {
    static code = "unsupported_media_type";
    static status = 415;
}
export class OfferTooLargeError extends InvalidInputError {
    static code = "offer_too_large";
    static status = 413;
}
export class WebhookUrlRefusedError extends InvalidInputError {
    static code = "webhook_url_refused";
}
export class InternalError extends AvatarRenderError {
    static code = "internal_error";
    static status = 500;
}
export class TransientError extends AvatarRenderError {
    static code = "transient_error";
    static status = 503;
}
export class QueueUnavailableError extends TransientError {
    static code = "queue_unavailable";
}
export class StorageUnavailableError extends TransientError {
    static code = "storage_unavailable";
}
export class TooManySessionsError extends TransientError {
    static code = "too_many_sessions";
}
export class OverloadedError extends TransientError {
    static code = "overloaded";
}
export class NetworkError extends AvatarRenderError {
    static code = "network_error";
}
export class IntegrityError extends AvatarRenderError {
    static code = "integrity_error";
}
export class WaitTimeoutError extends AvatarRenderError {
    static code = "wait_timeout";
}
export class UnexpectedResponseError extends AvatarRenderError {
    static code = "unexpected_response";
}
export class WebhookVerificationError extends AvatarRenderError {
    static code = "webhook_verification_failed";
}
const API_ERRORS = [
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
const BY_CODE = new Map(API_ERRORS.map((cls) => [cls.code, cls]));
export function errorClassFor(code) {
    return BY_CODE.get(code) ?? AvatarRenderError;
}
export function apiError(code, message, options = {}) {
    const cls = errorClassFor(code);
    return new cls(message, { ...options, code });
}
