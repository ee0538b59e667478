import { apiError, ConflictError, NotFoundError, } from "./errors.js";
import { EventStream } from "./events.js";
import { easedIntensity, frameColour, placeholder, readImageHeader, solidPng } from "./mock-media.js";
import { MockEventLog, moving } from "./mock-events.js";
import { validateBatch, validateRequest } from "./mock-validate.js";
import { isEventId, isTerminal } from "./types.js";
import { pollUntilFinished, sha256Hex, toBytes, verifyEntry } from "./util.js";
const MAX_PORTRAIT_BYTES = 10 * 1024 * 1024;
const MAX_PORTRAIT_SIDE = 4096;
const MAX_IDEMPOTENCY_KEY = 200;
function frameCount(request) {
    const exact = ((request.duration_ms ?? 2000) * (request.fps ?? 25)) / 1000;
    const floor = Math.floor(exact);
    const rest = exact - floor;
    const rounded = rest > 0.5 || (rest === 0.5 && floor % 2 === 1) ? floor + 1 : floor;
    return Math.max(1, rounded);
}
function canonical(value) {
    if (Array.isArray(value))
        return `[${value.map(canonical).join(",")}]`;
    if (typeof value === "object" && value !== null) {
        const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
        return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(",")}}`;
    }
    return JSON.stringify(value) ?? "null";
}
export class MockAvatarRenderer {
    baseUrl;
    autoAdvance;
    framesPerStep;
    clockStepMs;
    pollIntervalMs;
    workerName;
    clock;
    sequence = 0;
    characters = new Map();
    jobs = new Map();
    idempotency = new Map();
    frameCache = new Map();
    log = new MockEventLog(() => this.clock);
    constructor(options = {}) {
        this.autoAdvance = options.autoAdvance ?? true;
        this.framesPerStep = Math.max(1, options.framesPerStep ?? 16);
        this.clockStepMs = options.clockStepMs ?? 1000;
        this.pollIntervalMs = options.pollIntervalMs ?? 0;
        this.baseUrl = (options.baseUrl ?? "mock://avatar-render").replace(/\/+$/, "");
        this.workerName = options.workerName ?? "celery@mock-worker";
        this.clock = new Date(options.startTime ?? "2025-01-01T00:00:00Z").getTime();
    }
    async registerCharacter(portrait, name, options = {}) {
        options.signal?.throwIfAborted();
        if (name !== undefined && name.length > 200) {
            throw apiError("invalid_request", "name: String should have at most 200 characters", { status: 422 });
        }
        const data = await toBytes(portrait);
        if (data.byteLength === 0)
            throw apiError("empty_file", "the portrait file is empty", { status: 415 });
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
        const character = {
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
    async listCharacters(options = {}) {
        options.signal?.throwIfAborted();
        const limit = options.limit ?? 20;
        if (!Number.isInteger(limit) || limit < 1 || limit > 100) {
            throw apiError("invalid_request", "limit: Input should be from 1 to 100", { status: 422 });
        }
        if (options.cursor !== undefined && !/^\d+$/.test(options.cursor)) {
            throw apiError("invalid_request", "cursor: String should match pattern '^\\d+$'", { status: 422 });
        }
        const below = options.cursor === undefined ? Infinity : Number(options.cursor);
        const newestFirst = [...this.characters.values()].reverse();
        const page = newestFirst.filter((c) => parseInt(c.id, 16) < below).slice(0, limit);
        const last = page[page.length - 1];
        return {
            characters: structuredClone(page),
            next_cursor: page.length === limit && last !== undefined ? String(parseInt(last.id, 16)) : null,
        };
    }
    async renderEmotion(characterId, emotion, intensity, options = {}) {
        const { signal, idempotencyKey, ...params } = options;
        const request = { ...params, character_id: characterId, emotion, intensity };
        const [job] = this.submit("renders", [validateRequest(request)], { signal, idempotencyKey });
        return job;
    }
    async renderBatch(requests, options = {}) {
        return this.submit("renders/batch", validateBatch(requests), options);
    }
    async getStatus(jobId, options = {}) {
        options.signal?.throwIfAborted();
        const job = this.job(jobId);
        if (this.autoAdvance)
            this.step(job);
        return structuredClone(job.view);
    }
    async waitFor(jobId, options = {}) {
        this.job(jobId);
        return pollUntilFinished(jobId, (signal) => this.getStatus(jobId, { signal }), options, this.pollIntervalMs);
    }
    async cancel(jobId, options = {}) {
        options.signal?.throwIfAborted();
        const view = this.job(jobId).view;
        if (view.status === "cancelled")
            return structuredClone(view);
        if (isTerminal(view.status))
            throw new ConflictError(`job ${jobId} already ${view.status}`);
        view.cancel_requested = true;
        if (view.status === "queued") {
            view.status = "cancelled";
            view.finished_at = this.now();
            this.log.cancelled(view);
        }
        return structuredClone(view);
    }
    async retry(jobId, options = {}) {
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
    async getManifest(jobId, options = {}) {
        options.signal?.throwIfAborted();
        const job = this.finished(jobId);
        const attempt = job.view.attempts;
        if (job.manifest?.attempt !== attempt) {
            job.manifest = { attempt, value: this.buildManifest(job.view) };
        }
        return structuredClone(await job.manifest.value);
    }
    frameUrl(jobId, index) {
        return `${this.baseUrl}/v1/renders/${encodeURIComponent(jobId)}/frames/${index}`;
    }
    clipUrl(jobId) {
        return `${this.baseUrl}/v1/renders/${encodeURIComponent(jobId)}/clip.mp4`;
    }
    async downloadFrame(jobId, index, options = {}) {
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
    async downloadClip(jobId, options = {}) {
        const manifest = options.manifest ?? (await this.getManifest(jobId, options));
        if (!manifest.clip)
            throw new NotFoundError(`render ${jobId} was not asked for an mp4`);
        const data = this.clipBytes(this.finished(jobId).view);
        await verifyEntry(data, manifest.clip, `clip of render ${jobId}`);
        return data;
    }
    async healthCheck(options = {}) {
        options.signal?.throwIfAborted();
        return { alive: true, ready: true, queuesWithoutWorkers: [] };
    }
    events(options = {}) {
        const { renderId, types } = options;
        const wanted = types === undefined || types.length === 0 ? undefined : new Set(types);
        const followed = () => [...this.jobs.values()].filter((job) => moving(job.view) && (renderId === undefined || job.view.id === renderId));
        const source = this.log.follow({
            lastEventId: options.lastEventId,
            matches: (event) => (renderId === undefined || event.render_id === renderId) && (wanted?.has(event.type) ?? true),
            endsAtTerminal: false,
            advance: () => {
                const open = this.autoAdvance ? followed() : [];
                for (const job of open)
                    this.step(job);
                return open.length > 0;
            },
            signal: options.signal,
        });
        return new EventStream(source, options.lastEventId);
    }
    renderEvents(jobId, options = {}) {
        const source = async function* () {
            options.signal?.throwIfAborted();
            const job = this.job(jobId);
            const resumed = options.lastEventId;
            if (resumed !== undefined && isEventId(resumed) && !moving(job.view) && !this.log.anyAfter(resumed, jobId)) {
                return;
            }
            yield* this.log.follow({
                lastEventId: resumed,
                matches: (event) => event.render_id === jobId,
                first: () => this.log.state(job.view),
                endsAtTerminal: true,
                advance: () => {
                    if (!this.autoAdvance || !moving(job.view))
                        return false;
                    this.step(job);
                    return true;
                },
                signal: options.signal,
            });
        };
        return new EventStream(source.call(this), options.lastEventId);
    }
    advance(jobId, steps = 1) {
        const job = this.job(jobId);
        for (let i = 0; i < steps && !isTerminal(job.view.status); i++)
            this.step(job);
        return structuredClone(job.view);
    }
    settle(jobId) {
        const jobs = jobId === undefined ? [...this.jobs.values()] : [this.job(jobId)];
        for (const job of jobs)
            while (!isTerminal(job.view.status))
                this.step(job);
        return jobs.map((job) => structuredClone(job.view));
    }
    failJob(jobId, error = { code: "render_failed", message: "mock failure", retryable: false }) {
        const view = this.job(jobId).view;
        if (isTerminal(view.status))
            throw new ConflictError(`job ${jobId} already ${view.status}`);
        if (view.status === "queued")
            this.start(view);
        this.fail(view, error);
        return structuredClone(view);
    }
    nextId() {
        this.sequence += 1;
        return this.sequence.toString(16).padStart(32, "0");
    }
    now() {
        return new Date(this.clock).toISOString();
    }
    tick() {
        this.clock += this.clockStepMs;
    }
    job(jobId) {
        const job = this.jobs.get(jobId);
        if (job === undefined)
            throw new NotFoundError(`render ${jobId} not found`);
        return job;
    }
    finished(jobId) {
        const job = this.job(jobId);
        if (job.view.status !== "succeeded") {
            throw apiError("not_ready", `render ${jobId} is ${job.view.status}; it has no outputs`, {
                status: 409,
            });
        }
        return job;
    }
    submit(route, requests, options) {
        options.signal?.throwIfAborted();
        const key = options.idempotencyKey;
        let fingerprint;
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
                throw apiError("driving_video_not_found", `driving video ${request.driving_video_id} not found`, {
                    status: 404,
                });
            }
        }
        const created = requests.map((request) => ({
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
    start(view) {
        view.status = "running";
        view.attempts += 1;
        view.worker = this.workerName;
        view.renderer = { name: "mock", version: "1" };
        view.started_at = this.now();
        view.finished_at = null;
        view.progress.frames_done = 0;
        this.log.started(view);
    }
    fail(view, error) {
        view.status = "failed";
        view.error = { ...error };
        view.finished_at = this.now();
        this.log.failed(view, error);
    }
    step(job) {
        const view = job.view;
        if (isTerminal(view.status))
            return;
        this.tick();
        if (view.status === "queued") {
            if (view.cancel_requested) {
                view.status = "cancelled";
                view.finished_at = this.now();
                this.log.cancelled(view);
            }
            else {
                this.start(view);
            }
            return;
        }
        if (view.cancel_requested) {
            view.status = "cancelled";
            view.finished_at = this.now();
            this.log.cancelled(view);
            return;
        }
        if (view.request.metadata?.["mock_fault"] === "permanent") {
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
    prefix(view) {
        return `renders/${view.id}/${view.attempts}/`;
    }
    frameBytes(view, index) {
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
            if (this.frameCache.size >= 64)
                this.frameCache.clear();
            data = solidPng(size, size, colour);
            this.frameCache.set(key, data);
        }
        return data;
    }
    clipBytes(view) {
        const request = view.request;
        return placeholder([
            `clip of job ${view.id} attempt ${view.attempts}`,
            `${request.emotion ?? "driven"} intensity ${request.intensity} ${request.duration_ms} ms`,
            `${request.fps} fps ${request.size} px`,
        ].join("\n"));
    }
    async buildManifest(view) {
        const request = view.request;
        const prefix = this.prefix(view);
        const total = view.progress.frames_total ?? frameCount(request);
        const format = request.frame_format ?? "png";
        const frames = [];
        if (request.outputs?.includes("frames") ?? true) {
            const digests = new Map();
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
        let clip = null;
        if (request.outputs?.includes("mp4") ?? true) {
            const data = this.clipBytes(view);
            clip = { key: `${prefix}clip.mp4`, size: data.byteLength, sha256: await sha256Hex(data) };
        }
        const manifest = {
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
        if (view.finished_at !== null)
            manifest.created_at = view.finished_at;
        return manifest;
    }
}
