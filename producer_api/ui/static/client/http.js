import { apiError, NetworkError, NotFoundError, UnexpectedResponseError, } from "./errors.js";
import { DEFAULT_IDLE_TIMEOUT_MS, DEFAULT_RECONNECT_FOR_MS, EventStream, followHttp, } from "./events.js";
import { newIdempotencyKey, pollUntilFinished, sleep, toBlob, verifyEntry } from "./util.js";
export function parseRetryAfter(value, now = Date.now()) {
    if (value === null || value.trim() === "")
        return undefined;
    const text = value.trim();
    if (/^\d+(\.\d+)?$/.test(text))
        return Math.round(Number(text) * 1000);
    const date = Date.parse(text);
    return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
function isRecord(value) {
    return typeof value === "object" && value !== null && !Array.isArray(value);
}
function parseJson(text) {
    try {
        return JSON.parse(text);
    }
    catch {
        return undefined;
    }
}
async function readError(response) {
    const retryAfterMs = parseRetryAfter(response.headers.get("retry-after"));
    const text = await response.text().catch(() => "");
    let code = "http_error";
    let message = text.slice(0, 500) || response.statusText || `HTTP ${response.status}`;
    const body = parseJson(text);
    const detail = isRecord(body) ? body["error"] : undefined;
    if (isRecord(detail) && typeof detail["code"] === "string") {
        code = detail["code"];
        message = typeof detail["message"] === "string" ? detail["message"] : code;
    }
    return apiError(code, message, {
        status: response.status,
        ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    });
}
export class HttpAvatarRenderer {
    baseUrl;
    apiKey;
    fetchImpl;
    maxRetries;
    retryBaseDelayMs;
    maxRetryDelayMs;
    pollIntervalMs;
    extraHeaders;
    constructor(options) {
        this.baseUrl = options.baseUrl.replace(/\/+$/, "");
        this.apiKey = options.apiKey;
        this.fetchImpl = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
        this.maxRetries = options.maxRetries ?? 4;
        this.retryBaseDelayMs = options.retryBaseDelayMs ?? 500;
        this.maxRetryDelayMs = options.maxRetryDelayMs ?? 30_000;
        this.pollIntervalMs = options.pollIntervalMs ?? 500;
        this.extraHeaders = { ...options.headers };
    }
    async registerCharacter(portrait, name, options = {}) {
        const form = new FormData();
        form.append("portrait", toBlob(portrait), "portrait");
        if (name !== undefined)
            form.append("name", name);
        return this.json({
            method: "POST",
            path: "/v1/characters",
            body: form,
            signal: options.signal,
            safe: false,
        });
    }
    async listCharacters(options = {}) {
        const query = new URLSearchParams();
        if (options.limit !== undefined)
            query.set("limit", String(options.limit));
        if (options.cursor !== undefined)
            query.set("cursor", options.cursor);
        const text = query.toString();
        const suffix = text ? `?${text}` : "";
        return this.json({
            method: "GET",
            path: `/v1/characters${suffix}`,
            signal: options.signal,
            safe: true,
        });
    }
    async renderEmotion(characterId, emotion, intensity, options = {}) {
        const { signal, idempotencyKey, ...params } = options;
        const request = { ...params, character_id: characterId, emotion, intensity };
        const body = request;
        return this.json({
            method: "POST",
            path: "/v1/renders",
            json: body,
            signal,
            idempotencyKey: idempotencyKey ?? newIdempotencyKey(),
            safe: true,
        });
    }
    async renderBatch(requests, options = {}) {
        const batch = { requests: [...requests] };
        const body = await this.json({
            method: "POST",
            path: "/v1/renders/batch",
            json: batch,
            signal: options.signal,
            idempotencyKey: options.idempotencyKey ?? newIdempotencyKey(),
            safe: true,
        });
        return body.jobs;
    }
    async getStatus(jobId, options = {}) {
        return this.json({ method: "GET", path: this.jobPath(jobId), signal: options.signal, safe: true });
    }
    async waitFor(jobId, options = {}) {
        return pollUntilFinished(jobId, (signal) => this.getStatus(jobId, { signal }), options, this.pollIntervalMs);
    }
    async cancel(jobId, options = {}) {
        return this.json({
            method: "POST",
            path: `${this.jobPath(jobId)}/cancel`,
            signal: options.signal,
            safe: true,
        });
    }
    async retry(jobId, options = {}) {
        return this.json({
            method: "POST",
            path: `${this.jobPath(jobId)}/retry`,
            signal: options.signal,
            safe: false,
        });
    }
    async getManifest(jobId, options = {}) {
        return this.json({
            method: "GET",
            path: `${this.jobPath(jobId)}/manifest`,
            signal: options.signal,
            safe: true,
        });
    }
    frameUrl(jobId, index) {
        return `${this.baseUrl}${this.framePath(jobId, index)}`;
    }
    clipUrl(jobId) {
        return `${this.baseUrl}${this.jobPath(jobId)}/clip.mp4`;
    }
    async downloadFrame(jobId, index, options = {}) {
        const manifest = options.manifest ?? (await this.getManifest(jobId, options));
        const entry = manifest.frames?.find((frame) => frame.index === index);
        if (entry === undefined) {
            throw new NotFoundError(`render ${jobId} has no frame ${index} in its manifest`);
        }
        const data = await this.bytes(this.framePath(jobId, index), options.signal);
        await verifyEntry(data, entry, `frame ${index} of render ${jobId}`);
        return data;
    }
    async downloadClip(jobId, options = {}) {
        const manifest = options.manifest ?? (await this.getManifest(jobId, options));
        if (!manifest.clip)
            throw new NotFoundError(`render ${jobId} was not asked for an mp4`);
        const data = await this.bytes(`${this.jobPath(jobId)}/clip.mp4`, options.signal);
        await verifyEntry(data, manifest.clip, `clip of render ${jobId}`);
        return data;
    }
    async healthCheck(options = {}) {
        try {
            await this.send({ method: "GET", path: "/healthz", signal: options.signal, safe: true, auth: false });
        }
        catch (error) {
            if (options.signal?.aborted)
                throw error;
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
        const body = parseJson(await response.text().catch(() => ""));
        const listed = isRecord(body) ? body["queues_without_workers"] : undefined;
        const queues = Array.isArray(listed) ? listed.filter((queue) => typeof queue === "string") : [];
        const redis = isRecord(body) && typeof body["redis"] === "string" ? body["redis"] : undefined;
        const status = { alive: true, ready: response.ok, queuesWithoutWorkers: queues };
        if (!response.ok) {
            status.detail =
                redis && redis !== "ok" ? `redis: ${redis}` : `no live worker for ${queues.join(", ") || "some queue"}`;
        }
        return status;
    }
    events(options = {}) {
        const query = new URLSearchParams();
        if (options.renderId !== undefined)
            query.set("render_id", options.renderId);
        if (options.types !== undefined && options.types.length > 0)
            query.set("types", options.types.join(","));
        const search = query.toString() === "" ? "" : `?${query.toString()}`;
        return this.eventStream(`/v1/events${search}`, false, options);
    }
    renderEvents(jobId, options = {}) {
        return this.eventStream(`${this.jobPath(jobId)}/events`, true, options);
    }
    eventStream(path, endsAtTerminal, options) {
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
    jobPath(jobId) {
        return `/v1/renders/${encodeURIComponent(jobId)}`;
    }
    framePath(jobId, index) {
        return `${this.jobPath(jobId)}/frames/${encodeURIComponent(String(index))}`;
    }
    async json(spec) {
        const response = await this.send(spec);
        try {
            return (await response.json());
        }
        catch (error) {
            if (spec.signal?.aborted)
                throw spec.signal.reason;
            throw new UnexpectedResponseError(`${spec.method} ${spec.path}: the answer is not JSON`, {
                status: response.status,
                cause: error,
            });
        }
    }
    async bytes(path, signal) {
        const response = await this.send({ method: "GET", path, signal, safe: true });
        try {
            return new Uint8Array(await response.arrayBuffer());
        }
        catch (error) {
            if (signal?.aborted)
                throw signal.reason;
            throw new NetworkError(`GET ${path}: the download broke off`, { cause: error });
        }
    }
    headersFor(spec) {
        const headers = { ...this.extraHeaders };
        if (spec.auth !== false && this.apiKey)
            headers["Authorization"] = `Bearer ${this.apiKey}`;
        if (spec.json !== undefined)
            headers["Content-Type"] = "application/json";
        if (spec.idempotencyKey !== undefined)
            headers["Idempotency-Key"] = spec.idempotencyKey;
        return headers;
    }
    backoff(attempt) {
        const base = Math.min(this.maxRetryDelayMs, this.retryBaseDelayMs * 2 ** attempt);
        return base / 2 + Math.random() * (base / 2);
    }
    async send(spec) {
        const url = `${this.baseUrl}${spec.path}`;
        const headers = this.headersFor(spec);
        const body = spec.json !== undefined ? JSON.stringify(spec.json) : spec.body;
        for (let attempt = 0;; attempt++) {
            spec.signal?.throwIfAborted();
            let response;
            try {
                const init = { method: spec.method, headers };
                if (body !== undefined)
                    init.body = body;
                if (spec.signal !== undefined)
                    init.signal = spec.signal;
                response = await this.fetchImpl(url, init);
            }
            catch (error) {
                if (spec.signal?.aborted)
                    throw spec.signal.reason;
                if (spec.safe && attempt < this.maxRetries) {
                    await sleep(this.backoff(attempt), spec.signal);
                    continue;
                }
                const reason = error instanceof Error ? error.message : String(error);
                throw new NetworkError(`${spec.method} ${url}: ${reason}`, { cause: error });
            }
            if (response.ok || spec.accept?.includes(response.status))
                return response;
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
