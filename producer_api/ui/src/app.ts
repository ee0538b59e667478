/**
 * The operator's page at /ui: pick or upload a portrait, submit a render, watch it over
 * WebRTC (WHEP) while its events drive the progress bar, then see its frames and get
 * the mp4. API calls go through the TypeScript client (./client/, built from
 * clients/typescript); the WHEP exchange is ./whep.ts. The key lives in
 * memory, or in sessionStorage when asked: never in the URL or a cookie.
 */

import {
  AvatarRenderError,
  HttpAvatarRenderer,
  type Emotion,
  type FineControls,
  type Job,
  type RenderManifest,
} from "./client/index.js";
import { openWhep, type WhepSession } from "./whep.js";

const KEY_STORAGE = "avatar-render.api-key";
const CONTROLS: ReadonlyArray<[keyof FineControls, number, number, number]> = [
  ["smile", -1, 1, 0.05],
  ["eyebrow", -1, 1, 0.05],
  ["eye_open", -1, 1, 0.05],
  ["mouth_open", 0, 1, 0.05],
  ["head_pitch", -20, 20, 1],
  ["head_yaw", -30, 30, 1],
  ["head_roll", -20, 20, 1],
];

function el<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (found === null) throw new Error(`#${id} is missing`);
  return found as T;
}

let client: HttpAvatarRenderer | undefined;
let apiKey = "";
let watching: { jobId: string; stop: AbortController; whep?: WhepSession } | undefined;

function say(text: string, error = false, id = "status"): void {
  const line = el<HTMLParagraphElement>(id);
  line.textContent = text;
  line.classList.toggle("error", error);
}

function explain(error: unknown): string {
  if (error instanceof AvatarRenderError) return `${error.code}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}

function api(): HttpAvatarRenderer {
  if (client === undefined) throw new Error("enter an API key first");
  return client;
}

// ------------------------------------------------------------ key and characters

async function useKey(key: string, remember: boolean): Promise<void> {
  apiKey = key.trim();
  client = new HttpAvatarRenderer({ baseUrl: window.location.origin, apiKey });
  if (remember) sessionStorage.setItem(KEY_STORAGE, apiKey);
  else sessionStorage.removeItem(KEY_STORAGE);
  el<HTMLSelectElement>("character").replaceChildren();
  await loadCharacters();
}

async function loadCharacters(cursor?: string): Promise<void> {
  const page = await api().listCharacters({ limit: 50, ...(cursor ? { cursor } : {}) });
  const select = el<HTMLSelectElement>("character");
  for (const character of page.characters) {
    select.append(new Option(`${character.name ?? "(unnamed)"} · ${character.id.slice(0, 8)}`, character.id));
  }
  const more = el<HTMLButtonElement>("more-characters");
  more.hidden = page.next_cursor === null;
  more.dataset["cursor"] = page.next_cursor ?? "";
  say(select.options.length ? `${select.options.length} character(s).` : "No character yet: upload a portrait.");
}

async function upload(): Promise<void> {
  const file = el<HTMLInputElement>("portrait").files?.[0];
  if (file === undefined) throw new Error("choose a portrait file first");
  const name = el<HTMLInputElement>("portrait-name").value.trim();
  say("Uploading the portrait…");
  const character = await api().registerCharacter(file, name || undefined);
  const option = new Option(`${character.name ?? "(unnamed)"} · ${character.id.slice(0, 8)}`, character.id);
  el<HTMLSelectElement>("character").prepend(option);
  option.selected = true;
  say("Portrait registered.");
}

// ------------------------------------------------------------ render and watch

function controls(): FineControls | undefined {
  const chosen: FineControls = {};
  for (const [name] of CONTROLS) {
    const value = Number(el<HTMLInputElement>(`control-${name}`).value);
    if (value !== 0) chosen[name] = value;
  }
  return Object.keys(chosen).length ? chosen : undefined;
}

async function submit(): Promise<void> {
  const characterId = el<HTMLSelectElement>("character").value;
  if (!characterId) throw new Error("pick or upload a character first");
  await stopWatching();
  const fine = controls();
  const job = await api().renderEmotion(
    characterId,
    el<HTMLSelectElement>("emotion").value as Emotion,
    Number(el<HTMLInputElement>("intensity").value),
    {
      duration_ms: Number(el<HTMLInputElement>("duration").value),
      fps: Number(el<HTMLInputElement>("fps").value),
      size: Number(el<HTMLSelectElement>("size").value) as 256 | 512,
      outputs: ["frames", "mp4"],
      ...(fine ? { controls: fine } : {}),
    },
  );
  say(`Render ${job.id.slice(0, 8)} submitted.`);
  void watch(job);
}

async function watch(job: Job): Promise<void> {
  const current: NonNullable<typeof watching> = { jobId: job.id, stop: new AbortController() };
  watching = current;
  el<HTMLButtonElement>("cancel").disabled = false;
  clearResult();
  const total = job.progress.frames_total ?? 0;
  progress(job.progress.frames_done ?? 0, total, "queued");
  openWhep(job.id, apiKey, el<HTMLVideoElement>("live")).then(
    (session) => {
      if (watching === current) current.whep = session;
      else void session.close();
    },
    (error: unknown) => say(`Live view: ${explain(error)}`, true, "progress-text"),
  );
  try {
    for await (const event of api().renderEvents(job.id, { signal: current.stop.signal })) {
      if (event.type === "render.state") {
        const state = event.data.progress;
        progress(state.frames_done ?? 0, state.frames_total ?? total, event.data.status);
      } else if (event.type === "render.progress") {
        progress(event.data.frames_done, event.data.frames_total, "running");
      } else if (event.type === "render.started") {
        progress(0, total, `running (attempt ${event.data.attempt})`);
      } else if (event.type === "render.failed") {
        say(`Failed: ${event.data.error?.message ?? "unknown error"}`, true, "progress-text");
      } else if (event.type === "render.cancelled") {
        say("Cancelled.", true, "progress-text");
      } else if (event.type === "render.succeeded") {
        progress(total, total, "succeeded");
      }
    }
    const done = await api().getStatus(job.id);
    if (done.status === "succeeded") await showResult(job.id);
  } catch (error) {
    if (!current.stop.signal.aborted) say(explain(error), true, "progress-text");
  } finally {
    if (watching === current) el<HTMLButtonElement>("cancel").disabled = true;
  }
}

function progress(done: number, total: number, state: string): void {
  const bar = el<HTMLProgressElement>("progress");
  bar.max = Math.max(1, total);
  bar.value = done;
  say(`${state}: ${done} / ${total} frames`, false, "progress-text");
}

async function stopWatching(): Promise<void> {
  const current = watching;
  watching = undefined;
  if (current === undefined) return;
  current.stop.abort();
  await current.whep?.close();
}

// ------------------------------------------------------------ the finished clip

function clearResult(): void {
  const strip = el<HTMLDivElement>("strip");
  for (const img of strip.querySelectorAll("img")) URL.revokeObjectURL(img.src);
  strip.replaceChildren();
  delete strip.dataset["frames"];
  const link = el<HTMLAnchorElement>("download");
  if (link.href) URL.revokeObjectURL(link.href);
  link.hidden = true;
}

async function showResult(jobId: string): Promise<void> {
  const manifest: RenderManifest = await api().getManifest(jobId);
  const strip = el<HTMLDivElement>("strip");
  const type = `image/${manifest.frame_format}`;
  const frames = manifest.frames ?? [];
  for (const entry of frames) {
    const bytes = await api().downloadFrame(jobId, entry.index, { manifest }); // sha256-checked
    const img = new Image();
    img.alt = `frame ${entry.index + 1}`;
    img.src = URL.createObjectURL(new Blob([new Uint8Array(bytes)], { type }));
    strip.append(img);
  }
  strip.dataset["frames"] = String(frames.length);
  if (manifest.clip) {
    const clip = await api().downloadClip(jobId, { manifest });
    const link = el<HTMLAnchorElement>("download");
    link.href = URL.createObjectURL(new Blob([new Uint8Array(clip)], { type: "video/mp4" }));
    link.download = `${jobId}.mp4`;
    link.hidden = false;
  }
  say(`Done: ${frames.length} frames.`, false, "progress-text");
}

// ------------------------------------------------------------ wiring

function guarded(action: () => Promise<void>): () => void {
  return () => void action().catch((error: unknown) => say(explain(error), true));
}

function setUp(): void {
  const sliders = el<HTMLDivElement>("control-sliders");
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
  const intensity = el<HTMLInputElement>("intensity");
  intensity.addEventListener("input", () => {
    el<HTMLOutputElement>("intensity-value").textContent = Number(intensity.value).toFixed(2);
  });
  el<HTMLFormElement>("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const remember = el<HTMLInputElement>("remember").checked;
    guarded(() => useKey(el<HTMLInputElement>("api-key").value, remember))();
  });
  el<HTMLButtonElement>("forget-key").addEventListener("click", () => {
    sessionStorage.removeItem(KEY_STORAGE);
    apiKey = "";
    client = undefined;
    el<HTMLInputElement>("api-key").value = "";
    say("Key forgotten.");
  });
  el<HTMLButtonElement>("more-characters").addEventListener(
    "click",
    guarded(() => loadCharacters(el<HTMLButtonElement>("more-characters").dataset["cursor"])),
  );
  el<HTMLButtonElement>("upload").addEventListener("click", guarded(upload));
  el<HTMLFormElement>("render-form").addEventListener("submit", (event) => {
    event.preventDefault();
    guarded(submit)();
  });
  el<HTMLButtonElement>("cancel").addEventListener(
    "click",
    guarded(async () => {
      if (watching) await api().cancel(watching.jobId);
    }),
  );
  const kept = sessionStorage.getItem(KEY_STORAGE);
  if (kept) {
    el<HTMLInputElement>("api-key").value = kept;
    el<HTMLInputElement>("remember").checked = true;
    guarded(() => useKey(kept, true))();
  }
}

setUp();
