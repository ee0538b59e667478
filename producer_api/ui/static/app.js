import { AvatarRenderError, HttpAvatarRenderer, } from "./client/index.js";
import { openWhep } from "./whep.js";
const KEY_STORAGE = "avatar-render.api-key";
const CONTROLS = [
    ["smile", -1, 1, 0.05],
    ["eyebrow", -1, 1, 0.05],
    ["eye_open", -1, 1, 0.05],
    ["mouth_open", 0, 1, 0.05],
    ["head_pitch", -20, 20, 1],
    ["head_yaw", -30, 30, 1],
    ["head_roll", -20, 20, 1],
];
function el(id) {
    const found = document.getElementById(id);
    if (found === null)
        throw new Error(`#${id} is missing`);
    return found;
}
let client;
let apiKey = "";
let watching;
function say(text, error = false, id = "status") {
    const line = el(id);
    line.textContent = text;
    line.classList.toggle("error", error);
}
function explain(error) {
    if (error instanceof AvatarRenderError)
        return `${error.code}: ${error.message}`;
    return error instanceof Error ? error.message : String(error);
}
function api() {
    if (client === undefined)
        throw new Error("enter an API key first");
    return client;
}
async function useKey(key, remember) {
    apiKey = key.trim();
    client = new HttpAvatarRenderer({ baseUrl: window.location.origin, apiKey });
    if (remember)
        sessionStorage.setItem(KEY_STORAGE, apiKey);
    else
        sessionStorage.removeItem(KEY_STORAGE);
    el("character").replaceChildren();
    await loadCharacters();
}
async function loadCharacters(cursor) {
    const page = await api().listCharacters({ limit: 50, ...(cursor ? { cursor } : {}) });
    const select = el("character");
    for (const character of page.characters) {
        select.append(new Option(`${character.name ?? "(unnamed)"} · ${character.id.slice(0, 8)}`, character.id));
    }
    const more = el("more-characters");
    more.hidden = page.next_cursor === null;
    more.dataset["cursor"] = page.next_cursor ?? "";
    say(select.options.length ? `${select.options.length} character(s).` : "No character yet: upload a portrait.");
}
async function upload() {
    const file = el("portrait").files?.[0];
    if (file === undefined)
        throw new Error("choose a portrait file first");
    const name = el("portrait-name").value.trim();
    say("Uploading the portrait…");
    const character = await api().registerCharacter(file, name || undefined);
    const option = new Option(`${character.name ?? "(unnamed)"} · ${character.id.slice(0, 8)}`, character.id);
    el("character").prepend(option);
    option.selected = true;
    say("Portrait registered.");
}
function controls() {
    const chosen = {};
    for (const [name] of CONTROLS) {
        const value = Number(el(`control-${name}`).value);
        if (value !== 0)
            chosen[name] = value;
    }
    return Object.keys(chosen).length ? chosen : undefined;
}
async function submit() {
    const characterId = el("character").value;
    if (!characterId)
        throw new Error("pick or upload a character first");
    await stopWatching();
    const fine = controls();
    const job = await api().renderEmotion(characterId, el("emotion").value, Number(el("intensity").value), {
        duration_ms: Number(el("duration").value),
        fps: Number(el("fps").value),
        size: Number(el("size").value),
        outputs: ["frames", "mp4"],
        ...(fine ? { controls: fine } : {}),
    });
    say(`Render ${job.id.slice(0, 8)} submitted.`);
    void watch(job);
}
async function watch(job) {
    const current = { jobId: job.id, stop: new AbortController() };
    watching = current;
    el("cancel").disabled = false;
    clearResult();
    const total = job.progress.frames_total ?? 0;
    progress(job.progress.frames_done ?? 0, total, "queued");
    openWhep(job.id, apiKey, el("live")).then((session) => {
        if (watching === current)
            current.whep = session;
        else
            void session.close();
    }, (error) => say(`Live view: ${explain(error)}`, true, "progress-text"));
    try {
        for await (const event of api().renderEvents(job.id, { signal: current.stop.signal })) {
            if (event.type === "render.state") {
                const state = event.data.progress;
                progress(state.frames_done ?? 0, state.frames_total ?? total, event.data.status);
            }
            else if (event.type === "render.progress") {
                progress(event.data.frames_done, event.data.frames_total, "running");
            }
            else if (event.type === "render.started") {
                progress(0, total, `running (attempt ${event.data.attempt})`);
            }
            else if (event.type === "render.failed") {
                say(`Failed: ${event.data.error?.message ?? "unknown error"}`, true, "progress-text");
            }
            else if (event.type === "render.cancelled") {
                say("Cancelled.", true, "progress-text");
            }
            else if (event.type === "render.succeeded") {
                progress(total, total, "succeeded");
            }
        }
        const done = await api().getStatus(job.id);
        if (done.status === "succeeded")
            await showResult(job.id);
    }
    catch (error) {
        if (!current.stop.signal.aborted)
            say(explain(error), true, "progress-text");
    }
    finally {
        if (watching === current)
            el("cancel").disabled = true;
    }
}
function progress(done, total, state) {
    const bar = el("progress");
    bar.max = Math.max(1, total);
    bar.value = done;
    say(`${state}: ${done} / ${total} frames`, false, "progress-text");
}
async function stopWatching() {
    const current = watching;
    watching = undefined;
    if (current === undefined)
        return;
    current.stop.abort();
    await current.whep?.close();
}
function clearResult() {
    const strip = el("strip");
    for (const img of strip.querySelectorAll("img"))
        URL.revokeObjectURL(img.src);
    strip.replaceChildren();
    delete strip.dataset["frames"];
    const link = el("download");
    if (link.href)
        URL.revokeObjectURL(link.href);
    link.hidden = true;
}
async function showResult(jobId) {
    const manifest = await api().getManifest(jobId);
    const strip = el("strip");
    const type = `image/${manifest.frame_format}`;
    const frames = manifest.frames ?? [];
    for (const entry of frames) {
        const bytes = await api().downloadFrame(jobId, entry.index, { manifest });
        const img = new Image();
        img.alt = `frame ${entry.index + 1}`;
        img.src = URL.createObjectURL(new Blob([new Uint8Array(bytes)], { type }));
        strip.append(img);
    }
    strip.dataset["frames"] = String(frames.length);
    if (manifest.clip) {
        const clip = await api().downloadClip(jobId, { manifest });
        const link = el("download");
        link.href = URL.createObjectURL(new Blob([new Uint8Array(clip)], { type: "video/mp4" }));
        link.download = `${jobId}.mp4`;
        link.hidden = false;
    }
    say(`Done: ${frames.length} frames.`, false, "progress-text");
}
function guarded(action) {
    return () => void action().catch((error) => say(explain(error), true));
}
function setUp() {
    const sliders = el("control-sliders");
    for (const [name, min, max, step] of CONTROLS) {
        const label = document.createElement("label");
        const input = Object.assign(document.createElement("input"), {
            id: `control-${name}`,
            type: "range",
            min: String(min),
            max: String(max),
            step: String(step),
            value: "0",
        });
        const shown = document.createElement("output");
        shown.textContent = "0";
        input.addEventListener("input", () => (shown.textContent = input.value));
        label.append(name.replace("_", " "), input, shown);
        sliders.append(label);
    }
    const intensity = el("intensity");
    intensity.addEventListener("input", () => {
        el("intensity-value").textContent = Number(intensity.value).toFixed(2);
    });
    el("key-form").addEventListener("submit", (event) => {
        event.preventDefault();
        const remember = el("remember").checked;
        guarded(() => useKey(el("api-key").value, remember))();
    });
    el("forget-key").addEventListener("click", () => {
        sessionStorage.removeItem(KEY_STORAGE);
        apiKey = "";
        client = undefined;
        el("api-key").value = "";
        say("Key forgotten.");
    });
    el("more-characters").addEventListener("click", guarded(() => loadCharacters(el("more-characters").dataset["cursor"])));
    el("upload").addEventListener("click", guarded(upload));
    el("render-form").addEventListener("submit", (event) => {
        event.preventDefault();
        guarded(submit)();
    });
    el("cancel").addEventListener("click", guarded(async () => {
        if (watching)
            await api().cancel(watching.jobId);
    }));
    const kept = sessionStorage.getItem(KEY_STORAGE);
    if (kept) {
        el("api-key").value = kept;
        el("remember").checked = true;
        guarded(() => useKey(kept, true))();
    }
}
setUp();
