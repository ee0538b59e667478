/** The interface both adapters implement: HttpAvatarRenderer and MockAvatarRenderer. */

import type {
  Character,
  CharacterPage,
  Emotion,
  EventType,
  FrameOptions,
  Job,
  RenderEvent,
  RenderFields,
  RenderManifest,
  RenderRequest,
} from "./types.js";

/** A portrait image: PNG, JPEG or WebP bytes. */
export type PortraitInput = Blob | Uint8Array | ArrayBuffer;

export interface CallOptions {
  /** Aborting rejects the call with the signal's reason (an AbortError by default). */
  signal?: AbortSignal;
}

export interface SubmitOptions extends CallOptions {
  /**
   * Sent as `Idempotency-Key`: the same key and body give the same jobs for 24 hours,
   * the same key with another body is refused (IdempotencyKeyReusedError). Without one
   * a fresh key is made for each submission (and reused on its retries).
   */
  idempotencyKey?: string;
}

/**
 * The render request's fields other than the character, the intensity and the motion
 * source: `quality` only with `frame_format` webp or jpeg, as the API wants.
 */
export type RenderParams = Partial<Omit<RenderFields, "character_id" | "intensity">> & FrameOptions;

export type RenderOptions = RenderParams & SubmitOptions;

export interface WaitOptions extends CallOptions {
  /** Called with the job when its status, attempt or progress changed (and first seen). */
  onProgress?: (job: Job) => void;
  /** Give up after this long with WaitTimeoutError (the job goes on). No limit by default. */
  timeoutMs?: number;
  /** Time between status reads; the adapter's default otherwise. */
  pollIntervalMs?: number;
}

export interface DownloadOptions extends CallOptions {
  /** The job's manifest when the caller has it already (saves a request per download). */
  manifest?: RenderManifest;
}

export interface RenderEventsOptions extends CallOptions {
  /** Resume after this event id (a stored `lastEventId`); the stream starts after it. */
  lastEventId?: string;
  /**
   * A connection that brings nothing (not even a keep-alive) this long is dropped and
   * reopened; keep it above the server's keep-alive interval (15 s). Default 45 000.
   */
  idleTimeoutMs?: number;
  /** How long reconnecting may fail in a row before the stream throws. Default 120 000. */
  reconnectForMs?: number;
}

export interface EventsOptions extends RenderEventsOptions {
  /** Only this render's events. */
  renderId?: string;
  /** Only these types. */
  types?: readonly EventType[];
}

/**
 * Events as they come, resuming by itself after a dropped connection: `for await (const
 * event of stream)`. Breaking out of the loop, `close()` or the signal ends it.
 */
export interface RenderEventStream extends AsyncIterable<RenderEvent> {
  /** Open the connection now, so the events written from here on are seen. */
  connect(): Promise<this>;
  /** The id of the last event handed out: `lastEventId` to resume from later. */
  readonly lastEventId: string | undefined;
  close(): Promise<void>;
}

export interface ListOptions extends CallOptions {
  /** At most this many (1 to 100; the API's default is 20). */
  limit?: number;
  /** `next_cursor` of the previous page. */
  cursor?: string;
}

export interface HealthStatus {
  /** The API process answers (`/healthz`). */
  alive: boolean;
  /** Redis answers and every render queue has a live worker (`/readyz`). */
  ready: boolean;
  /** Render queues that no live worker consumes. */
  queuesWithoutWorkers: string[];
  /** Why not alive or not ready, when known. */
  detail?: string;
}

export interface IAvatarRenderer {
  /** Register a portrait (must show a face); the character renders many times. */
  registerCharacter(portrait: PortraitInput, name?: string, options?: CallOptions): Promise<Character>;

  /** The tenant's characters, newest first, a page at a time (`next_cursor` pages on). */
  listCharacters(options?: ListOptions): Promise<CharacterPage>;

  /** Submit one render of a character showing an emotion (intensity 0 to 1). */
  renderEmotion(
    characterId: string,
    emotion: Emotion,
    intensity: number,
    options?: RenderOptions,
  ): Promise<Job>;

  /**
   * Submit 1 to 100 renders, accepted or refused together; jobs in request order. Each
   * request names exactly one of `emotion` and `driving_video_id`.
   */
  renderBatch(requests: readonly RenderRequest[], options?: SubmitOptions): Promise<Job[]>;

  /** The job's status, attempts, progress and error. */
  getStatus(jobId: string, options?: CallOptions): Promise<Job>;

  /**
   * Poll until the job is succeeded, failed or cancelled and resolve with it (a failed
   * job resolves too: look at `job.status` and `job.error`).
   */
  waitFor(jobId: string, options?: WaitOptions): Promise<Job>;

  /** Cancel a queued job at once; a running one stops at its next batch of frames. */
  cancel(jobId: string, options?: CallOptions): Promise<Job>;

  /** Run a failed or cancelled job again as a new attempt; ConflictError otherwise. */
  retry(jobId: string, options?: CallOptions): Promise<Job>;

  /** The manifest of a succeeded render; NotReadyError before. */
  getManifest(jobId: string, options?: CallOptions): Promise<RenderManifest>;

  /** Where a frame can be fetched (the HTTP API needs the Authorization header). */
  frameUrl(jobId: string, index: number): string;

  /** Where the clip can be fetched (the HTTP API needs the Authorization header). */
  clipUrl(jobId: string): string;

  /** One frame's bytes, checked against the manifest's size and sha256 (IntegrityError). */
  downloadFrame(jobId: string, index: number, options?: DownloadOptions): Promise<Uint8Array>;

  /** The clip.mp4 bytes, checked against the manifest's size and sha256 (IntegrityError). */
  downloadClip(jobId: string, options?: DownloadOptions): Promise<Uint8Array>;

  /** Whether the API is alive and ready to render. */
  healthCheck(options?: CallOptions): Promise<HealthStatus>;

  /**
   * The tenant's events as they are written (`GET /v1/events`), optionally of one render
   * or some types; it never ends by itself. It resumes by itself with `Last-Event-ID`,
   * so each event comes once, in order; `EventsExpiredError` when `lastEventId` is past
   * the retention. Connects on the first read, or at `connect()`.
   */
  events(options?: EventsOptions): RenderEventStream;

  /**
   * One render's events: first `render.state` (its `data` is the job), then each change;
   * it ends after `render.succeeded`, `render.failed` or `render.cancelled` (right after
   * the state when the job had already ended). Push rather than waitFor's polling.
   */
  renderEvents(jobId: string, options?: RenderEventsOptions): RenderEventStream;
}
