/**
 * An in-memory, deterministic stand-in for the API, for unit tests of code built on
 * IAvatarRenderer (the Character Manager's among them). It keeps the real contract:
 * the same validation and error classes, the lifecycle queued → running → succeeded |
 * failed | cancelled, cancel and retry rules, 404 for unknown ids, 409 for outputs of
 * an unfinished job, idempotency keys, and manifests with real sizes and sha256.
 *
 * Time does not pass by itself: with `autoAdvance` (the default) every status read
 * (getStatus, each waitFor poll) moves that job one step (queued → running, then
 * `framesPerStep` frames a step, then done), and so does an event stream that has
 * handed out every event so far (each of the jobs it follows); `advance`, `settle` and
 * `failJob` drive jobs by hand. Every move writes the events the API would, to an
 * in-memory log that `events()` and `renderEvents()` read. Ids count up and timestamps come from a fake clock, so a test that
 * makes the same calls sees the same values.
 *
 * Frames are real PNGs (a flat colour per emotion and eased intensity); webp/jpeg
 * frames and clips are deterministic placeholder bytes, not decodable media.
 */

import {
  apiError,
  ConflictError,
  NotFoundError,
} from "./errors.js";
import { EventStream, type EventSource } from "./events.js";
import { easedIntensity, frameColour, placeholder, readImageHeader, solidPng } from "./mock-media.js";
import { MockEventLog, moving } from "./mock-events.js";
import { validateBatch, validateRequest, type NormalizedRequest } from "./mock-validate.js";
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
  Character,
  CharacterPage,
  Emotion,
  FrameEntry,
  Job,
  JobError,
  RenderManifest,
  RenderRequest,
  RenderRequestSchema,
} from "./types.js";
import { isEventId, isTerminal } from "./types.js";
import { pollUntilFinished, sha256Hex, toBytes, verifyEntry } from "./util.js";

const MAX_PORTRAIT_BYTES = 10 * 1024 * 1024;
const MAX_PORTRAIT_SIDE = 4096;
const MAX_IDEMPOTENCY_KEY = 200;

export interface MockAvatarRendererOptions {
  /** Every status read moves the job one step. Default true; false: only advance()/settle(). */
  autoAdvance?: boolean;
  /** Frames rendered per step while running. Default 16 (the workers' frame batch). */
  framesPerStep?: number;
  /** The fake clock's start. Default 2025-01-01T00:00:00Z. */
  startTime?: string | number | Date;
  /** How far the fake clock moves on each change. Default 1000 ms. */
  clockStepMs?: number;
  /** waitFor's default time between polls. Default 0 (the next tick). */
  pollIntervalMs?: number;
  /** The prefix of frameUrl and clipUrl. Default `mock://avatar-render`. */
  baseUrl?: string;
  /** The worker name jobs show. Default `celery@mock-worker`. */
  workerName?: string;
}

interface MockJob {
  view: Job;
  manifest?: { attempt: number; value: Promise<RenderManifest> };
}

interface IdempotencyEntry {
  fingerprint: string;
  jobIds: string[];
}

function frameCount(request: Pick<RenderRequestSchema, "duration_ms" | "fps">): number {
  const exact = ((request.duration_ms ?? 2000) * (request.fps ?? 25)) / 1000;
  const floor = Math.floor(exact);
  const rest = exact - floor;
  // Python's round(): halves go to the even neighbour
  const rounded = rest > 0.5 || (rest === 0.5 && floor % 2 === 1) ? floor + 1 : floor;
  return Math.max(1, rounded);
}

/** JSON with sorted keys: a body's fingerprint, as the API takes it. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (typeof value === "object" && value !== null) {
    const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

export class MockAvatarRenderer implements IAvatarRenderer {
  readonly baseUrl: string;
  private readonly autoAdvance: boolean;
  private readonly framesPerStep: number;
  private readonly clockStepMs: number;
  private readonly pollIntervalMs: number;
  private readonly workerName: string;
  private clock: number;
  private sequence = 0;
  private readonly characters = new Map<string, Character>();
  private readonly jobs = new Map<string, MockJob>();
  private readonly idempotency = new Map<string, IdempotencyEntry>();
  private readonly frameCache = new Map<string, Uint8Array>();
  private readonly log = new MockEventLog(() => this.clock);

  constructor(options: MockAvatarRendererOptions = {}) {
    this.autoAdvance = options.autoAdvance ?? true;
    this.framesPerStep = Math.max(1, options.framesPerStep ?? 16);
    this.clockStepMs = options.clockStepMs ?? 1000;
    this.pollIntervalMs = options.pollIntervalMs ?? 0;
    this.baseUrl = (options.baseUrl ?? "mock://avatar-render").replace(/\/+$/, "");
    this.workerName = options.workerName ?? "celery@mock-worker";
    this.clock = new Date(options.startTime ?? "2025-01-01T00:00:00Z").getTime();
  }

  // ------------------------------------------------------------ the interface

  async registerCharacter(
    portrait: PortraitInput,
    name?: string,
    options: CallOptions = {},
  ): Promise<Character> {
    options.signal?.throwIfAborted();
    if (name !== undefined && name.length > 200) {
      throw apiError("invalid_request", "name: String should have at most 200 characters", { status: 422 });
    }
    const data = await toBytes(portrait);
    if (data.byteLength === 0) throw apiError("empty_file", "the portrait file is empty", { status: 415 });
    if (data.byteLength > MAX_PORTRAIT_BYTES) {
      throw apiError("image_too_large", "the portrait is over 10 MB", { status: 413 });
    }
    const facts = readImageHeader(data);
    if (facts === undefined || facts.width < 1 || facts.height < 1) {
      throw apiError("unsupported_image", "the portrait is not a PNG, JPEG or WebP image", { status: 415 });
    }
    if (facts.width > MAX_PORTRAIT_SIDE || facts.height > MAX_PORTRAIT_SIDE) {
      throw apiError("image_too_large", `the portrait is over ${MAX_PORTRAIT_SIDE} px a side`, { status: 413 });
    }
    const { width, height } = facts;
    const character: Character = {
      id: this.nextId(),
      name: name ?? null,
      width,
      height,
      face: {
        box: { left: width * 0.3, top: height * 0.25, right: width * 0.7, bottom: height * 0.7 },
        detector: "mock",
        score: 1,
      },
      created_at: this.now(),
    };
    this.characters.set(character.id, character);
    return structuredClone(character);
  }

  async listCharacters(options: ListOptions = {}): Promise<CharacterPage> {
    options.signal?.throwIfAborted();
    const limit = options.limit ?? 20;
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) {
      throw apiError("invalid_request", "limit: Input should be from 1 to 100", { status: 422 });
    }
    if (options.cursor !== undefined && !/^\d+$/.test(options.cursor)) {
      throw apiError("invalid_request", "cursor: String should match pattern '^\\d+$'", { status: 422 });
    }
    // Ids are the sequence in hex: the cursor is the last listed one's sequence number.
    const below = options.cursor === undefined ? Infinity : Number(options.cursor);
    const newestFirst = [...this.characters.values()].reverse();
    const page = newestFirst.filter((c) => parseInt(c.id, 16) < below).slice(0, limit);
    const last = page[page.length - 1];
    return {
      characters: structuredClone(page),
      next_cursor: page.length === limit && last !== undefined ? String(parseInt(last.id, 16)) : null,
    };
  }

  async renderEmotion(
    characterId: string,
    emotion: Emotion,
    intensity: number,
    options: RenderOptions = {},
  ): Promise<Job> {
    const { signal, idempotencyKey, ...params } = options;
    const request: RenderRequest = { ...params, character_id: characterId, emotion, intensity };
    const [job] = this.submit("renders", [validateRequest(request)], { signal, idempotencyKey });
    return job!;
  }

  async renderBatch(requests: readonly RenderRequest[], options: SubmitOptions = {}): Promise<Job[]> {
    return this.submit("renders/batch", validateBatch(requests), options);
  }

  async getStatus(jobId: string, options: CallOptions = {}): Promise<Job> {
    options.signal?.throwIfAborted();
    const job = this.job(jobId);
    if (this.autoAdvance) this.step(job);
    return structuredClone(job.view);
  }

  async waitFor(jobId: string, options: WaitOptions = {}): Promise<Job> {
    this.job(jobId);
    return pollUntilFinished(
      jobId,
      (signal) => this.getStatus(jobId, { signal }),
      options,
      this.pollIntervalMs,
    );
  }

  async cancel(jobId: string, options: CallOptions = {}): Promise<Job> {
    options.signal?.throwIfAborted();
    const view = this.job(jobId).view;
    if (view.status === "cancelled") return structuredClone(view);
    if (isTerminal(view.status)) throw new ConflictError(`job ${jobId} already ${view.status}`);
    view.cancel_requested = true;
    if (view.status === "queued") {
      view.status = "cancelled";
      view.finished_at = this.now();
      this.log.cancelled(view);
    }
    return structuredClone(view);
  }

  async retry(jobId: string, options: CallOptions = {}): Promise<Job> {
    options.signal?.throwIfAborted();
    const view = this.job(jobId).view;
    if (view.status !== "failed" && view.status !== "cancelled") {
      throw new ConflictError(`job ${jobId} is ${view.status}; only failed or cancelled jobs retry`);
    }
    view.status = "queued";
    view.cancel_requested = false;
    view.error = null;
    view.finished_at = null;
    view.progress.frames_done = 0;
    view.outputs_expired = false;
    this.log.retried(view);
    this.tick();
    return structuredClone(view);
  }

  async getManifest(jobId: string, options: CallOptions = {}): Promise<RenderManifest> {
    options.signal?.throwIfAborted();
    const job = this.finished(jobId);
    const attempt = job.view.attempts;
    if (job.manifest?.attempt !== attempt) {
      job.manifest = { attempt, value: this.buildManifest(job.view) };
    }
    return structuredClone(await job.manifest.value);
  }

  frameUrl(jobId: string, index: number): string {
    return `${this.baseUrl}/v1/renders/${encodeURIComponent(jobId)}/frames/${index}`;
  }

  clipUrl(jobId: string): string {
    return `${this.baseUrl}/v1/renders/${encodeURIComponent(jobId)}/clip.mp4`;
  }

  async downloadFrame(jobId: string, index: number, options: DownloadOptions = {}): Promise<Uint8Array> {
    const manifest = options.manifest ?? (await this.getManifest(jobId, options));
    const entry = manifest.frames?.find((frame) => frame.index === index);
    if (entry === undefined) {
      throw new NotFoundError(`render ${jobId} has no frame ${index} in its manifest`);
    }
    const view = this.finished(jobId).view;
    const data = this.frameBytes(view, index);
    await verifyEntry(data, entry, `frame ${index} of render ${jobId}`);
    return data.slice();
  }

  async downloadClip(jobId: string, options: DownloadOptions = {}): Promise<Uint8Array> {
    const manifest = options.manifest ?? (await this.getManifest(jobId, options));
    if (!manifest.clip) throw new NotFoundError(`render ${jobId} was not asked for an mp4`);
    const data = this.clipBytes(this.finished(jobId).view);
    await verifyEntry(data, manifest.clip, `clip of render ${jobId}`);
    return data;
  }

  async healthCheck(options: CallOptions = {}): Promise<HealthStatus> {
    options.signal?.throwIfAborted();
    return { alive: true, ready: true, queuesWithoutWorkers: [] };
  }

  events(options: EventsOptions = {}): RenderEventStream {
    const { renderId, types } = options;
    const wanted = types === undefined || types.length === 0 ? undefined : new Set<string>(types);
    const followed = (): MockJob[] =>
      [...this.jobs.values()].filter((job) => moving(job.view) && (renderId === undefined || job.view.id === renderId));
    const source = this.log.follow({
      lastEventId: options.lastEventId,
      matches: (event) => (renderId === undefined || event.render_id === renderId) && (wanted?.has(event.type) ?? true),
      endsAtTerminal: false,
      advance: () => {
        const open = this.autoAdvance ? followed() : [];
        for (const job of open) this.step(job);
        return open.length > 0;
      },
      signal: options.signal,
    });
    return new EventStream(source, options.lastEventId);
  }

  renderEvents(jobId: string, options: RenderEventsOptions = {}): RenderEventStream {
    const source = async function* (this: MockAvatarRenderer): EventSource {
      options.signal?.throwIfAborted();
      const job = this.job(jobId);
      const resumed = options.lastEventId;
      if (resumed !== undefined && isEventId(resumed) && !moving(job.view) && !this.log.anyAfter(resumed, jobId)) {
        return; // resumed after the end: the API answers 204
      }
      yield* this.log.follow({
        lastEventId: resumed,
        matches: (event) => event.render_id === jobId,
        first: () => this.log.state(job.view),
        endsAtTerminal: true,
        advance: () => {
          if (!this.autoAdvance || !moving(job.view)) return false;
          this.step(job);
          return true;
        },
        signal: options.signal,
      });
    };
    return new EventStream(source.call(this), options.lastEventId);
  }

  // ------------------------------------------------------- test controls

  /** Move a job `steps` steps on, whatever `autoAdvance` says; the job after. */
  advance(jobId: string, steps = 1): Job {
    const job = this.job(jobId);
    for (let i = 0; i < steps && !isTerminal(job.view.status); i++) this.step(job);
    return structuredClone(job.view);
  }

  /** Run one job (or every job) until it is succeeded, failed or cancelled. */
  settle(jobId?: string): Job[] {
    const jobs = jobId === undefined ? [...this.jobs.values()] : [this.job(jobId)];
    for (const job of jobs) while (!isTerminal(job.view.status)) this.step(job);
    return jobs.map((job) => structuredClone(job.view));
  }

  /** End a queued or running job as failed with `error` (as a worker would). */
  failJob(
    jobId: string,
    error: JobError = { code: "render_failed", message: "mock failure", retryable: false },
  ): Job {
    const view = this.job(jobId).view;
    if (isTerminal(view.status)) throw new ConflictError(`job ${jobId} already ${view.status}`);
    if (view.status === "queued") this.start(view);
    this.fail(view, error);
    return structuredClone(view);
  }

  // ---------------------------------------------------------------- state

  private nextId(): string {
    this.sequence += 1;
    return this.sequence.toString(16).padStart(32, "0");
  }

  private now(): string {
    return new Date(this.clock).toISOString();
  }

  private tick(): void {
    this.clock += this.clockStepMs;
  }

  private job(jobId: string): MockJob {
    const job = this.jobs.get(jobId);
    if (job === undefined) throw new NotFoundError(`render ${jobId} not found`);
    return job;
  }

  private finished(jobId: string): MockJob {
    const job = this.job(jobId);
    if (job.view.status !== "succeeded") {
      throw apiError("not_ready", `render ${jobId} is ${job.view.status}; it has no outputs`, {
        status: 409,
      });
    }
    return job;
  }

  private submit(route: string, requests: NormalizedRequest[], options: SubmitOptions): Job[] {
    options.signal?.throwIfAborted();
    const key = options.idempotencyKey;
    let fingerprint: string | undefined;
    if (key !== undefined) {
      if (key.length < 1 || key.length > MAX_IDEMPOTENCY_KEY) {
        throw apiError("invalid_input", `Idempotency-Key must be 1 to ${MAX_IDEMPOTENCY_KEY} characters`, {
          status: 422,
        });
      }
      fingerprint = canonical({ route, body: requests });
      const earlier = this.idempotency.get(key);
      if (earlier !== undefined) {
        if (earlier.fingerprint !== fingerprint) {
          throw apiError("idempotency_key_reused", "this Idempotency-Key was used with a different request", {
            status: 409,
          });
        }
        return earlier.jobIds.map((id) => structuredClone(this.job(id).view));
      }
    }
    for (const request of requests) {
      if (!this.characters.has(request.character_id)) {
        throw apiError("character_not_found", `character ${request.character_id} not found`, { status: 404 });
      }
      if (request.driving_video_id) {
        // The mock has no driving videos: none can be found.
        throw apiError("driving_video_not_found", `driving video ${request.driving_video_id} not found`, {
          status: 404,
        });
      }
    }
    const created = requests.map((request): Job => ({
      id: this.nextId(),
      status: "queued",
      request: structuredClone(request),
      attempts: 0,
      cancel_requested: false,
      progress: { frames_done: 0, frames_total: frameCount(request) },
      worker: null,
      renderer: null,
      error: null,
      created_at: this.now(),
      started_at: null,
      finished_at: null,
      manifest_key: null,
      outputs_expired: false,
    }));
    for (const view of created) {
      this.jobs.set(view.id, { view });
      this.log.queued(view);
    }
    if (key !== undefined && fingerprint !== undefined) {
      this.idempotency.set(key, { fingerprint, jobIds: created.map((view) => view.id) });
    }
    this.tick();
    return created.map((view) => structuredClone(view));
  }

  private start(view: Job): void {
    view.status = "running";
    view.attempts += 1;
    view.worker = this.workerName;
    view.renderer = { name: "mock", version: "1" };
    view.started_at = this.now();
    view.finished_at = null;
    view.progress.frames_done = 0;
    this.log.started(view);
  }

  private fail(view: Job, error: JobError): void {
    view.status = "failed";
    view.error = { ...error };
    view.finished_at = this.now();
    this.log.failed(view, error);
  }

  /** One step of the job's life, as a worker would move it. */
  private step(job: MockJob): void {
    const view = job.view;
    if (isTerminal(view.status)) return;
    this.tick();
    if (view.status === "queued") {
      if (view.cancel_requested) {
        view.status = "cancelled";
        view.finished_at = this.now();
        this.log.cancelled(view);
      } else {
        this.start(view);
      }
      return;
    }
    if (view.cancel_requested) {
      // stopped between batches; the partial outputs are gone
      view.status = "cancelled";
      view.finished_at = this.now();
      this.log.cancelled(view);
      return;
    }
    if (view.request.metadata?.["mock_fault"] === "permanent") {
      // as the Python mock renderer does when its faults are on
      this.fail(view, { code: "render_failed", message: "mock permanent fault", retryable: false });
      return;
    }
    const total = view.progress.frames_total ?? frameCount(view.request);
    const done = view.progress.frames_done ?? 0;
    view.progress.frames_done = Math.min(total, done + this.framesPerStep);
    this.log.progress(view, done);
    if (view.progress.frames_done === total) {
      view.status = "succeeded";
      view.error = null;
      view.manifest_key = `renders/${view.id}/${view.attempts}/manifest.json`;
      view.finished_at = this.now();
      this.log.succeeded(view);
    }
  }

  // ---------------------------------------------------------------- outputs

  private prefix(view: Job): string {
    return `renders/${view.id}/${view.attempts}/`;
  }

  private frameBytes(view: Job, index: number): Uint8Array {
    const request = view.request;
    const total = view.progress.frames_total ?? frameCount(request);
    const format = request.frame_format ?? "png";
    if (format !== "png") {
      const level = easedIntensity(request.intensity ?? 0.8, total, index).toFixed(4);
      return placeholder(`${format} frame ${index}/${total} of ${request.emotion ?? "driven"} at ${level}`);
    }
    const size = request.size ?? 512;
    const colour = frameColour(request.emotion, request.intensity ?? 0.8, total, index);
    const key = `${size}:${colour.join(",")}`;
    let data = this.frameCache.get(key);
    if (data === undefined) {
      if (this.frameCache.size >= 64) this.frameCache.clear();
      data = solidPng(size, size, colour);
      this.frameCache.set(key, data);
    }
    return data;
  }

  private clipBytes(view: Job): Uint8Array {
    const request = view.request;
    return placeholder(
      [
        `clip of job ${view.id} attempt ${view.attempts}`,
        `${request.emotion ?? "driven"} intensity ${request.intensity} ${request.duration_ms} ms`,
        `${request.fps} fps ${request.size} px`,
      ].join("\n"),
    );
  }

  private async buildManifest(view: Job): Promise<RenderManifest> {
    const request = view.request;
    const prefix = this.prefix(view);
    const total = view.progress.frames_total ?? frameCount(request);
    const format = request.frame_format ?? "png";
    const frames: FrameEntry[] = [];
    if (request.outputs?.includes("frames") ?? true) {
      const digests = new Map<Uint8Array, string>();
      for (let index = 0; index < total; index++) {
        const data = this.frameBytes(view, index);
        let sha256 = digests.get(data);
        if (sha256 === undefined) {
          sha256 = await sha256Hex(data);
          digests.set(data, sha256);
        }
        const key = `${prefix}frames/${String(index).padStart(6, "0")}.${format}`;
        frames.push({ index, key, size: data.byteLength, sha256 });
      }
    }
    let clip: RenderManifest["clip"] = null;
    if (request.outputs?.includes("mp4") ?? true) {
      const data = this.clipBytes(view);
      clip = { key: `${prefix}clip.mp4`, size: data.byteLength, sha256: await sha256Hex(data) };
    }
    const manifest: RenderManifest = {
      job_id: view.id,
      attempt: view.attempts,
      request: structuredClone(request),
      renderer: { name: "mock", version: "1", weights_fingerprint: null, synthetic_weights: false, device: "cpu" },
      fps: request.fps ?? 25,
      width: request.size ?? 512,
      height: request.size ?? 512,
      frame_count: total,
      frame_format: format,
      frames,
      clip,
      timings_ms: {},
      extra: {},
    };
    if (view.finished_at !== null) manifest.created_at = view.finished_at;
    return manifest;
  }
}
