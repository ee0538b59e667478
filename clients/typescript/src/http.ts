/** The adapter for the real API, over `fetch`. */

import {
  AvatarRenderError,
  apiError,
  NetworkError,
  NotFoundError,
  UnexpectedResponseError,
} from "./errors.js";
import {
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_RECONNECT_FOR_MS,
  EventStream,
  followHttp,
} from "./events.js";
import type {
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
  SubmitOptions,
  WaitOptions,
} from "./renderer.js";
import type {
  BatchJobs,
  Character,
  CharacterPage,
  Emotion,
  Job,
  RenderManifest,
  RenderRequest,
  SubmitBatchBody,
  SubmitRenderBody,
} from "./types.js";
import { newIdempotencyKey, pollUntilFinished, sleep, toBlob, verifyEntry } from "./util.js";

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

export interface HttpAvatarRendererOptions {
  /** The API's root, e.g. `http://127.0.0.1:8000` (without `/v1`). */
  baseUrl: string;
  /** A tenant's API key, sent as `Authorization: Bearer <key>`; none when auth is off. */
  apiKey?: string;
  /** The fetch to use (default: the global one), e.g. for tests or a proxy. */
  fetch?: FetchLike;
  /** Retries after 503 or 429 (and after network errors on safe calls). Default 4. */
  maxRetries?: number;
  /** First backoff when the server gives no Retry-After; doubles, jittered. Default 500 ms. */
  retryBaseDelayMs?: number;
  /** The longest wait between retries, Retry-After included. Default 30 s. */
  maxRetryDelayMs?: number;
  /** waitFor's default time between status reads. Default 500 ms. */
  pollIntervalMs?: number;
  /** Extra headers on every request. */
  headers?: Record<string, string>;
}

interface RequestSpec {
  method: "GET" | "POST";
  path: string;
  body?: BodyInit;
  json?: unknown;
  signal?: AbortSignal | undefined;
  idempotencyKey?: string;
  /** May a network error be retried (the call changes nothing, or carries a key)? */
  safe: boolean;
  /** Statuses that are answers rather than errors (e.g. 503 from /readyz). */
  accept?: readonly number[];
  auth?: boolean;
}

/** Milliseconds from a Retry-After header (seconds or an HTTP date); undefined if absent. */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | undefined {
  if (value === null || value.trim() === "") return undefined;
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

async function readError(response: Response): Promise<AvatarRenderError> {
  const retryAfterMs = parseRetryAfter(response.headers.get("retry-after"));
  const text = await response.text().catch(() => "");
  let code = "http_error";
  let message = text.slice(0, 500) || response.statusText || `HTTP ${response.status}`;
  const body = parseJson(text);
  const detail = isRecord(body) ? body["error"] : undefined;
  if (isRecord(detail) && typeof detail["code"] === "string") {
    // the API's ErrorBody: {"error": {"code", "message"}}; anything else keeps the text
    code = detail["code"];
    message = typeof detail["message"] === "string" ? detail["message"] : code;
  }
  return apiError(code, message, {
    status: response.status,
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
  });
}

export class HttpAvatarRenderer implements IAvatarRenderer {
  readonly baseUrl: string;
  private readonly apiKey: string | undefined;
  private readonly fetchImpl: FetchLike;
  private readonly maxRetries: number;
  private readonly retryBaseDelayMs: number;
  private readonly maxRetryDelayMs: number;
  private readonly pollIntervalMs: number;
  private readonly extraHeaders: Record<string, string>;

  constructor(options: HttpAvatarRendererOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.apiKey = options.apiKey;
    this.fetchImpl = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.maxRetries = options.maxRetries ?? 4;
    this.retryBaseDelayMs = options.retryBaseDelayMs ?? 500;
    this.maxRetryDelayMs = options.maxRetryDelayMs ?? 30_000;
    this.pollIntervalMs = options.pollIntervalMs ?? 500;
    this.extraHeaders = { ...options.headers };
  }

  async registerCharacter(
    portrait: PortraitInput,
    name?: string,
    options: CallOptions = {},
  ): Promise<Character> {
    const form = new FormData();
    form.append("portrait", toBlob(portrait), "portrait");
    if (name !== undefined) form.append("name", name);
    return this.json<Character>({
      method: "POST",
      path: "/v1/characters",
      body: form,
      signal: options.signal,
      safe: false,
    });
  }

  async listCharacters(options: ListOptions = {}): Promise<CharacterPage> {
    const query = new URLSearchParams();
    if (options.limit !== undefined) query.set("limit", String(options.limit));
    if (options.cursor !== undefined) query.set("cursor", options.cursor);
    const text = query.toString();
    const suffix = text ? `?${text}` : "";
    return this.json<CharacterPage>({
      method: "GET",
      path: `/v1/characters${suffix}`,
      signal: options.signal,
      safe: true,
    });
  }

  async renderEmotion(
    characterId: string,
    emotion: Emotion,
    intensity: number,
    options: RenderOptions = {},
  ): Promise<Job> {
    const { signal, idempotencyKey, ...params } = options;
    const request: RenderRequest = { ...params, character_id: characterId, emotion, intensity };
    const body: SubmitRenderBody = request; // the compiler checks our request types against the document's
    return this.json<Job>({
      method: "POST",
      path: "/v1/renders",
      json: body,
      signal,
      idempotencyKey: idempotencyKey ?? newIdempotencyKey(),
      safe: true,
    });
  }

  async renderBatch(requests: readonly RenderRequest[], options: SubmitOptions = {}): Promise<Job[]> {
    const batch: SubmitBatchBody = { requests: [...requests] };
    const body = await this.json<BatchJobs>({
      method: "POST",
      path: "/v1/renders/batch",
      json: batch,
      signal: options.signal,
      idempotencyKey: options.idempotencyKey ?? newIdempotencyKey(),
      safe: true,
    });
    return body.jobs;
  }

  async getStatus(jobId: string, options: CallOptions = {}): Promise<Job> {
    return this.json<Job>({ method: "GET", path: this.jobPath(jobId), signal: options.signal, safe: true });
  }

  async waitFor(jobId: string, options: WaitOptions = {}): Promise<Job> {
    return pollUntilFinished(
      jobId,
      (signal) => this.getStatus(jobId, { signal }),
      options,
      this.pollIntervalMs,
    );
  }

  async cancel(jobId: string, options: CallOptions = {}): Promise<Job> {
    // Cancelling twice is harmless (a cancelled job answers as it is), so it may be retried.
    return this.json<Job>({
      method: "POST",
      path: `${this.jobPath(jobId)}/cancel`,
      signal: options.signal,
      safe: true,
    });
  }

  async retry(jobId: string, options: CallOptions = {}): Promise<Job> {
    return this.json<Job>({
      method: "POST",
      path: `${this.jobPath(jobId)}/retry`,
      signal: options.signal,
      safe: false,
    });
  }

  async getManifest(jobId: string, options: CallOptions = {}): Promise<RenderManifest> {
    return this.json<RenderManifest>({
      method: "GET",
      path: `${this.jobPath(jobId)}/manifest`,
      signal: options.signal,
      safe: true,
    });
  }

  frameUrl(jobId: string, index: number): string {
    return `${this.baseUrl}${this.framePath(jobId, index)}`;
  }

  clipUrl(jobId: string): string {
    return `${this.baseUrl}${this.jobPath(jobId)}/clip.mp4`;
  }

  async downloadFrame(jobId: string, index: number, options: DownloadOptions = {}): Promise<Uint8Array> {
    const manifest = options.manifest ?? (await this.getManifest(jobId, options));
    const entry = manifest.frames?.find((frame) => frame.index === index);
    if (entry === undefined) {
      throw new NotFoundError(`render ${jobId} has no frame ${index} in its manifest`);
    }
    const data = await this.bytes(this.framePath(jobId, index), options.signal);
    await verifyEntry(data, entry, `frame ${index} of render ${jobId}`);
    return data;
  }

  async downloadClip(jobId: string, options: DownloadOptions = {}): Promise<Uint8Array> {
    const manifest = options.manifest ?? (await this.getManifest(jobId, options));
    if (!manifest.clip) throw new NotFoundError(`render ${jobId} was not asked for an mp4`);
    const data = await this.bytes(`${this.jobPath(jobId)}/clip.mp4`, options.signal);
    await verifyEntry(data, manifest.clip, `clip of render ${jobId}`);
    return data;
  }

  async healthCheck(options: CallOptions = {}): Promise<HealthStatus> {
    try {
      await this.send({ method: "GET", path: "/healthz", signal: options.signal, safe: true, auth: false });
    } catch (error) {
      if (options.signal?.aborted) throw error;
      const detail = error instanceof Error ? error.message : String(error);
      return { alive: false, ready: false, queuesWithoutWorkers: [], detail };
    }
    const response = await this.send({
      method: "GET",
      path: "/readyz",
      signal: options.signal,
      safe: true,
      auth: false,
      accept: [503],
    });
    // /readyz: {"status", "redis", "queues_without_workers"} (the document leaves it open)
    const body = parseJson(await response.text().catch(() => ""));
    const listed = isRecord(body) ? body["queues_without_workers"] : undefined;
    const queues = Array.isArray(listed) ? listed.filter((queue) => typeof queue === "string") : [];
    const redis = isRecord(body) && typeof body["redis"] === "string" ? body["redis"] : undefined;
    const status: HealthStatus = { alive: true, ready: response.ok, queuesWithoutWorkers: queues };
    if (!response.ok) {
      status.detail =
        redis && redis !== "ok" ? `redis: ${redis}` : `no live worker for ${queues.join(", ") || "some queue"}`;
    }
    return status;
  }

  events(options: EventsOptions = {}): RenderEventStream {
    const query = new URLSearchParams();
    if (options.renderId !== undefined) query.set("render_id", options.renderId);
    if (options.types !== undefined && options.types.length > 0) query.set("types", options.types.join(","));
    const search = query.toString() === "" ? "" : `?${query.toString()}`;
    return this.eventStream(`/v1/events${search}`, false, options);
  }

  renderEvents(jobId: string, options: RenderEventsOptions = {}): RenderEventStream {
    return this.eventStream(`${this.jobPath(jobId)}/events`, true, options);
  }

  // ---------------------------------------------------------------- plumbing

  private eventStream(path: string, endsAtTerminal: boolean, options: RenderEventsOptions): RenderEventStream {
    const source = followHttp({
      url: `${this.baseUrl}${path}`,
      headers: this.headersFor({ method: "GET", path, safe: true }),
      fetch: this.fetchImpl,
      readError,
      backoffMs: (failures) => this.backoff(failures - 1),
      endsAtTerminal,
      lastEventId: options.lastEventId,
      signal: options.signal,
      idleTimeoutMs: options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
      reconnectForMs: options.reconnectForMs ?? DEFAULT_RECONNECT_FOR_MS,
    });
    return new EventStream(source, options.lastEventId);
  }

  private jobPath(jobId: string): string {
    return `/v1/renders/${encodeURIComponent(jobId)}`;
  }

  private framePath(jobId: string, index: number): string {
    return `${this.jobPath(jobId)}/frames/${encodeURIComponent(String(index))}`;
  }

  private async json<T>(spec: RequestSpec): Promise<T> {
    const response = await this.send(spec);
    try {
      return (await response.json()) as T;
    } catch (error) {
      if (spec.signal?.aborted) throw spec.signal.reason;
      throw new UnexpectedResponseError(`${spec.method} ${spec.path}: the answer is not JSON`, {
        status: response.status,
        cause: error,
      });
    }
  }

  private async bytes(path: string, signal: AbortSignal | undefined): Promise<Uint8Array> {
    const response = await this.send({ method: "GET", path, signal, safe: true });
    try {
      return new Uint8Array(await response.arrayBuffer());
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      throw new NetworkError(`GET ${path}: the download broke off`, { cause: error });
    }
  }

  private headersFor(spec: RequestSpec): Record<string, string> {
    const headers: Record<string, string> = { ...this.extraHeaders };
    if (spec.auth !== false && this.apiKey) headers["Authorization"] = `Bearer ${this.apiKey}`;
    if (spec.json !== undefined) headers["Content-Type"] = "application/json";
    if (spec.idempotencyKey !== undefined) headers["Idempotency-Key"] = spec.idempotencyKey;
    return headers;
  }

  private backoff(attempt: number): number {
    const base = Math.min(this.maxRetryDelayMs, this.retryBaseDelayMs * 2 ** attempt);
    return base / 2 + Math.random() * (base / 2);
  }

  /**
   * One call with its retries: 503 and 429 are retried after Retry-After (or a jittered
   * backoff), network errors only when the call is safe to repeat. The headers, the
   * Idempotency-Key among them, are the same on every try.
   */
  private async send(spec: RequestSpec): Promise<Response> {
    const url = `${this.baseUrl}${spec.path}`;
    const headers = this.headersFor(spec);
    const body = spec.json !== undefined ? JSON.stringify(spec.json) : spec.body;
    for (let attempt = 0; ; attempt++) {
      spec.signal?.throwIfAborted();
      let response: Response;
      try {
        const init: RequestInit = { method: spec.method, headers };
        if (body !== undefined) init.body = body;
        if (spec.signal !== undefined) init.signal = spec.signal;
        response = await this.fetchImpl(url, init);
      } catch (error) {
        if (spec.signal?.aborted) throw spec.signal.reason;
        if (spec.safe && attempt < this.maxRetries) {
          await sleep(this.backoff(attempt), spec.signal);
          continue;
        }
        const reason = error instanceof Error ? error.message : String(error);
        throw new NetworkError(`${spec.method} ${url}: ${reason}`, { cause: error });
      }
      if (response.ok || spec.accept?.includes(response.status)) return response;
      const error = await readError(response);
      if ((response.status === 503 || response.status === 429) && attempt < this.maxRetries) {
        const wait = Math.min(this.maxRetryDelayMs, error.retryAfterMs ?? this.backoff(attempt));
        await sleep(wait, spec.signal);
        continue;
      }
      throw error;
    }
  }
}
