/**
 * Character Manager example: register every portrait in a folder, render each
 * character's seven emotions in one batch, wait with progress, download the clips
 * (each checked against its manifest's sha256) and write index.json and index.html.
 *
 *   node dist/main.js --portraits DIR [--out DIR] [--api-url URL] [--api-key KEY]
 *                     [--intensity 0.8] [--duration-ms 2000] [--fps 25] [--size 512]
 *
 * The API URL and key default to AVATAR_RENDER_URL and AVATAR_RENDER_API_KEY. Exits
 * non-zero unless every clip succeeded and verified.
 */

import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { basename, extname, join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";

import {
  AvatarRenderError,
  EMOTIONS,
  HttpAvatarRenderer,
  sha256Hex,
  type Character,
  type Emotion,
  type IAvatarRenderer,
  type Job,
  type RenderRequest,
} from "@avatar-render/client";

const IMAGE_EXTENSIONS = new Set([".png", ".jpg", ".jpeg", ".webp"]);

interface Settings {
  portraits: string;
  out: string;
  apiUrl: string;
  apiKey: string | undefined;
  intensity: number;
  durationMs: number;
  fps: number;
  size: 256 | 512;
  timeoutMs: number;
}

interface ClipEntry {
  emotion: Emotion;
  job_id: string;
  status: Job["status"];
  attempts: number;
  file: string | null;
  bytes: number | null;
  sha256: string | null;
  verified: boolean;
  error: string | null;
}

interface CharacterEntry {
  id: string;
  name: string;
  portrait: string;
  idempotency_key: string;
  clips: ClipEntry[];
}

function settingsFromArgs(): Settings {
  const { values } = parseArgs({
    options: {
      portraits: { type: "string" },
      out: { type: "string", default: "character-index" },
      "api-url": { type: "string", default: process.env["AVATAR_RENDER_URL"] ?? "http://127.0.0.1:8000" },
      "api-key": { type: "string", default: process.env["AVATAR_RENDER_API_KEY"] },
      intensity: { type: "string", default: "0.8" },
      "duration-ms": { type: "string", default: "2000" },
      fps: { type: "string", default: "25" },
      size: { type: "string", default: "512" },
      "timeout-s": { type: "string", default: "600" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help || !values.portraits) {
    console.log(
      "usage: node dist/main.js --portraits DIR [--out DIR] [--api-url URL] [--api-key KEY]\n" +
        "                         [--intensity 0.8] [--duration-ms 2000] [--fps 25] [--size 512] [--timeout-s 600]",
    );
    process.exit(values.help ? 0 : 2);
  }
  const size = Number(values.size);
  if (size !== 256 && size !== 512) throw new Error("--size must be 256 or 512");
  return {
    portraits: resolve(values.portraits),
    out: resolve(values.out),
    apiUrl: values["api-url"],
    apiKey: values["api-key"],
    intensity: Number(values.intensity),
    durationMs: Number(values["duration-ms"]),
    fps: Number(values.fps),
    size,
    timeoutMs: Number(values["timeout-s"]) * 1000,
  };
}

function slug(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "") || "character";
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function describe(error: unknown): string {
  if (error instanceof AvatarRenderError) return `${error.code} (${error.status}): ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}

async function portraitFiles(folder: string): Promise<string[]> {
  const names = await readdir(folder);
  return names
    .filter((name) => IMAGE_EXTENSIONS.has(extname(name).toLowerCase()))
    .sort()
    .map((name) => join(folder, name));
}

/** The emotion a render shows; every render here names one (none is driven by a video). */
function emotionOf(job: Job): Emotion {
  const emotion = job.request.emotion;
  if (emotion === null || emotion === undefined) throw new Error(`render ${job.id} names no emotion`);
  return emotion;
}

/** Submit the seven emotions of one character as one batch, under a key derived from it. */
async function submitEmotions(
  client: IAvatarRenderer,
  character: Character,
  settings: Settings,
): Promise<{ jobs: Job[]; key: string }> {
  const requests: RenderRequest[] = EMOTIONS.map((emotion) => ({
    character_id: character.id,
    emotion,
    intensity: settings.intensity,
    duration_ms: settings.durationMs,
    fps: settings.fps,
    size: settings.size,
    outputs: ["mp4"],
    priority: "batch",
    metadata: { app: "character-manager", character: character.name },
  }));
  // The same character and requests give the same key: submitting again (after a lost
  // answer, or a rerun on the same character) returns the same jobs instead of new ones.
  const digest = await sha256Hex(new TextEncoder().encode(JSON.stringify(requests)));
  const key = `character-manager:${character.id}:${digest.slice(0, 32)}`;
  const jobs = await client.renderBatch(requests, { idempotencyKey: key });
  return { jobs, key };
}

/** Wait for every job, printing each change of status or progress. */
async function waitAll(client: IAvatarRenderer, labelled: { label: string; job: Job }[], timeoutMs: number): Promise<Job[]> {
  return Promise.all(
    labelled.map(({ label, job }) =>
      client.waitFor(job.id, {
        timeoutMs,
        onProgress: (update) => {
          const { frames_done = 0, frames_total = 0 } = update.progress;
          const error = update.error ? ` ${update.error.code}: ${update.error.message}` : "";
          console.log(`  ${label.padEnd(28)} ${update.status.padEnd(9)} ${frames_done}/${frames_total}${error}`);
        },
      }),
    ),
  );
}

/** Download a succeeded job's clip; the client checks it against the manifest. */
async function saveClip(
  client: IAvatarRenderer,
  job: Job,
  emotion: Emotion,
  folder: string,
  out: string,
): Promise<ClipEntry> {
  const entry: ClipEntry = {
    emotion,
    job_id: job.id,
    status: job.status,
    attempts: job.attempts,
    file: null,
    bytes: null,
    sha256: null,
    verified: false,
    error: job.error ? `${job.error.code}: ${job.error.message}` : null,
  };
  if (job.status !== "succeeded") return entry;
  try {
    const manifest = await client.getManifest(job.id);
    const clip = await client.downloadClip(job.id, { manifest }); // IntegrityError on a mismatch
    const sha256 = await sha256Hex(clip);
    const path = join(folder, `${emotion}.mp4`);
    await writeFile(path, clip);
    Object.assign(entry, {
      file: relative(out, path),
      bytes: clip.byteLength,
      sha256,
      verified: sha256 === manifest.clip?.sha256,
    });
  } catch (error) {
    entry.error = describe(error);
  }
  return entry;
}

function indexHtml(characters: CharacterEntry[]): string {
  const sections = characters.map((character) => {
    const clips = character.clips.map((clip) => {
      const body = clip.file
        ? `<video src="${escapeHtml(clip.file)}" controls loop muted playsinline width="256"></video>`
        : `<p class="error">${escapeHtml(clip.error ?? clip.status)}</p>`;
      const mark = clip.verified ? "verified" : "not verified";
      return `      <figure>${body}<figcaption>${escapeHtml(clip.emotion)} · ${mark}</figcaption></figure>`;
    });
    return [
      `  <section>`,
      `    <h2>${escapeHtml(character.name)} <small>${escapeHtml(character.id)}</small></h2>`,
      `    <div class="clips">`,
      ...clips,
      `    </div>`,
      `  </section>`,
    ].join("\n");
  });
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Characters</title>
  <style>
    body { font-family: system-ui, sans-serif; margin: 2rem; }
    .clips { display: flex; flex-wrap: wrap; gap: 1rem; }
    figure { margin: 0; } figcaption { text-align: center; }
    small { color: #888; font-weight: normal; } .error { color: #b00; width: 256px; }
  </style>
</head>
<body>
  <h1>Characters</h1>
${sections.join("\n")}
</body>
</html>
`;
}

async function main(): Promise<number> {
  const settings = settingsFromArgs();
  const client = new HttpAvatarRenderer({
    baseUrl: settings.apiUrl,
    ...(settings.apiKey ? { apiKey: settings.apiKey } : {}),
    pollIntervalMs: 250,
  });
  const health = await client.healthCheck();
  if (!health.alive) throw new Error(`the API at ${settings.apiUrl} does not answer: ${health.detail ?? ""}`);
  if (!health.ready) console.warn(`warning: the API is not ready (${health.detail ?? "?"}); jobs will wait`);

  const files = await portraitFiles(settings.portraits);
  if (files.length === 0) throw new Error(`no PNG, JPEG or WebP portraits in ${settings.portraits}`);
  await mkdir(settings.out, { recursive: true });

  const characters: CharacterEntry[] = [];
  const submitted: { entry: CharacterEntry; jobs: Job[] }[] = [];
  for (const file of files) {
    const name = basename(file, extname(file));
    const character = await client.registerCharacter(await readFile(file), name);
    const { jobs, key } = await submitEmotions(client, character, settings);
    console.log(`registered ${name} as ${character.id}; submitted ${jobs.length} renders (key ${key})`);
    const entry: CharacterEntry = { id: character.id, name, portrait: file, idempotency_key: key, clips: [] };
    characters.push(entry);
    submitted.push({ entry, jobs });
  }

  console.log("waiting for the renders:");
  for (const { entry, jobs } of submitted) {
    const labelled = jobs.map((job) => ({ label: `${entry.name}/${emotionOf(job)}`, job }));
    const finished = await waitAll(client, labelled, settings.timeoutMs);
    const folder = join(settings.out, slug(entry.name));
    await mkdir(folder, { recursive: true });
    for (const job of finished) {
      entry.clips.push(await saveClip(client, job, emotionOf(job), folder, settings.out));
    }
  }

  const index = {
    generated_at: new Date().toISOString(),
    api_url: settings.apiUrl,
    request: {
      intensity: settings.intensity,
      duration_ms: settings.durationMs,
      fps: settings.fps,
      size: settings.size,
    },
    characters,
  };
  await writeFile(join(settings.out, "index.json"), `${JSON.stringify(index, null, 2)}\n`);
  await writeFile(join(settings.out, "index.html"), indexHtml(characters));

  const clips = characters.flatMap((character) => character.clips);
  const good = clips.filter((clip) => clip.status === "succeeded" && clip.verified);
  console.log(`${good.length} of ${clips.length} clips succeeded and verified; index in ${settings.out}`);
  for (const clip of clips.filter((c) => !good.includes(c))) {
    console.log(`  ${clip.emotion} (${clip.job_id}): ${clip.error ?? clip.status}`);
  }
  return good.length === clips.length ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`character-manager: ${describe(error)}`);
    process.exit(1);
  },
);
