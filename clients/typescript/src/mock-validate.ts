/**
 * The mock's copy of the API's request validation (render_core/schema.py RenderRequest,
 * render_core/emotions.py FineControls): the same limits, the same 422
 * `invalid_request`, and requests normalised with the same defaults the API echoes.
 * The shared behaviour tests run against both, so the two cannot drift apart silently.
 */

import { ValidationError } from "./errors.js";
import { EMOTIONS, type FineControls, type RenderRequest } from "./types.js";

const MAX_METADATA_BYTES = 4096;
const REQUEST_FIELDS = [
  "character_id",
  "emotion",
  "driving_video_id",
  "controls",
  "intensity",
  "duration_ms",
  "fps",
  "size",
  "outputs",
  "frame_format",
  "quality",
  "priority",
  "metadata",
] as const;
const CONTROL_RANGES: Record<keyof FineControls, readonly [number, number]> = {
  smile: [-1, 1],
  eyebrow: [-1, 1],
  eye_open: [-1, 1],
  mouth_open: [0, 1],
  head_pitch: [-20, 20],
  head_yaw: [-30, 30],
  head_roll: [-20, 20],
};

type Problems = string[];

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function number(
  problems: Problems,
  where: string,
  value: unknown,
  min: number,
  max: number,
  integer: boolean,
): void {
  if (typeof value !== "number" || !Number.isFinite(value)) {
    problems.push(`${where}: Input should be a valid ${integer ? "integer" : "number"}`);
  } else if (integer && !Number.isInteger(value)) {
    problems.push(`${where}: Input should be a valid integer`);
  } else if (value < min) {
    problems.push(`${where}: Input should be greater than or equal to ${min}`);
  } else if (value > max) {
    problems.push(`${where}: Input should be less than or equal to ${max}`);
  }
}

function choice(problems: Problems, where: string, value: unknown, allowed: readonly unknown[]): void {
  if (!allowed.includes(value)) {
    problems.push(`${where}: Input should be ${allowed.map((a) => JSON.stringify(a)).join(", ")}`);
  }
}

function string(problems: Problems, where: string, value: unknown, max: number): void {
  if (typeof value !== "string") problems.push(`${where}: Input should be a valid string`);
  else if (value.length < 1) problems.push(`${where}: String should have at least 1 character`);
  else if (value.length > max) problems.push(`${where}: String should have at most ${max} characters`);
}

/** Python's json.dumps (default separators, ensure_ascii): the text whose size the API measures. */
function pythonJson(value: unknown): string {
  if (typeof value === "string") {
    return JSON.stringify(value).replace(
      /[\u0080-\uffff]/g,
      (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
    );
  }
  if (Array.isArray(value)) return `[${value.map(pythonJson).join(", ")}]`;
  if (isObject(value)) {
    return `{${Object.entries(value)
      .map(([key, item]) => `${pythonJson(key)}: ${pythonJson(item)}`)
      .join(", ")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

function checkControls(problems: Problems, value: unknown, prefix: string): FineControls | null {
  if (value === null || value === undefined) return null;
  if (!isObject(value)) {
    problems.push(`${prefix}controls: Input should be a valid dictionary or object`);
    return null;
  }
  const out: FineControls = {};
  for (const key of Object.keys(value)) {
    if (!(key in CONTROL_RANGES)) problems.push(`${prefix}controls.${key}: Extra inputs are not permitted`);
  }
  for (const [key, [min, max]] of Object.entries(CONTROL_RANGES) as [keyof FineControls, [number, number]][]) {
    const given = value[key];
    if (given === null || given === undefined) {
      out[key] = null;
    } else {
      number(problems, `${prefix}controls.${key}`, given, min, max, false);
      out[key] = given as number;
    }
  }
  return out;
}

/** Problems with one request, and the request with the API's defaults filled in. */
export function checkRequest(raw: unknown, prefix = ""): { problems: Problems; request: RenderRequest } {
  const problems: Problems = [];
  if (!isObject(raw)) {
    problems.push(`${prefix || "body"}: Input should be a valid dictionary or object`);
    return { problems, request: { character_id: "" } };
  }
  for (const key of Object.keys(raw)) {
    if (!(REQUEST_FIELDS as readonly string[]).includes(key)) {
      problems.push(`${prefix}${key}: Extra inputs are not permitted`);
    }
  }
  const get = (key: string, fallback: unknown): unknown => (raw[key] === undefined ? fallback : raw[key]);
  const request = {
    character_id: get("character_id", undefined),
    emotion: get("emotion", null),
    driving_video_id: get("driving_video_id", null),
    controls: checkControls(problems, raw["controls"], prefix),
    intensity: get("intensity", 0.8),
    duration_ms: get("duration_ms", 2000),
    fps: get("fps", 25),
    size: get("size", 512),
    outputs: get("outputs", ["frames", "mp4"]),
    frame_format: get("frame_format", "png"),
    quality: get("quality", null),
    priority: get("priority", "interactive"),
    metadata: get("metadata", null),
  };
  if (request.character_id === undefined) problems.push(`${prefix}character_id: Field required`);
  else string(problems, `${prefix}character_id`, request.character_id, 64);
  if (request.emotion !== null) choice(problems, `${prefix}emotion`, request.emotion, EMOTIONS);
  if (request.driving_video_id !== null) {
    string(problems, `${prefix}driving_video_id`, request.driving_video_id, 64);
  }
  number(problems, `${prefix}intensity`, request.intensity, 0, 1, false);
  number(problems, `${prefix}duration_ms`, request.duration_ms, 200, 10_000, true);
  number(problems, `${prefix}fps`, request.fps, 1, 60, true);
  choice(problems, `${prefix}size`, request.size, [256, 512]);
  if (!Array.isArray(request.outputs)) {
    problems.push(`${prefix}outputs: Input should be a valid list`);
  } else {
    if (request.outputs.length < 1) problems.push(`${prefix}outputs: List should have at least 1 item`);
    request.outputs.forEach((kind: unknown, i) => choice(problems, `${prefix}outputs.${i}`, kind, ["frames", "mp4"]));
    if (new Set(request.outputs).size !== request.outputs.length) {
      problems.push(`${prefix}outputs: Value error, outputs must not repeat an entry`);
    }
  }
  choice(problems, `${prefix}frame_format`, request.frame_format, ["png", "webp", "jpeg"]);
  if (request.quality !== null) number(problems, `${prefix}quality`, request.quality, 1, 100, true);
  choice(problems, `${prefix}priority`, request.priority, ["interactive", "batch"]);
  if (request.metadata !== null) {
    if (!isObject(request.metadata)) {
      problems.push(`${prefix}metadata: Input should be a valid dictionary`);
    } else if (new TextEncoder().encode(pythonJson(request.metadata)).length > MAX_METADATA_BYTES) {
      problems.push(`${prefix}metadata: Value error, metadata must be at most ${MAX_METADATA_BYTES} bytes as JSON`);
    }
  }
  if (problems.length === 0) {
    if ((request.emotion === null) === (request.driving_video_id === null)) {
      problems.push(`${prefix || "body"}: Value error, give exactly one of emotion and driving_video_id`);
    } else if (request.quality !== null && request.frame_format === "png") {
      problems.push(`${prefix || "body"}: Value error, quality applies to webp and jpeg frames, not png`);
    }
  }
  return { problems, request: request as RenderRequest };
}

/** The normalised request, or ValidationError (422 invalid_request) as the API answers. */
export function validateRequest(raw: unknown): RenderRequest {
  const { problems, request } = checkRequest(raw);
  if (problems.length > 0) throw new ValidationError(problems.join("; "), { status: 422 });
  return request;
}

/** The normalised batch (1 to 100 requests), or ValidationError. */
export function validateBatch(requests: unknown): RenderRequest[] {
  if (!Array.isArray(requests)) {
    throw new ValidationError("requests: Input should be a valid list", { status: 422 });
  }
  const problems: Problems = [];
  if (requests.length < 1) problems.push("requests: List should have at least 1 item after validation, not 0");
  if (requests.length > 100) problems.push(`requests: List should have at most 100 items after validation, not ${requests.length}`);
  const normalised = requests.map((raw: unknown, i) => {
    const checked = checkRequest(raw, `requests.${i}.`);
    problems.push(...checked.problems);
    return checked.request;
  });
  if (problems.length > 0) throw new ValidationError(problems.join("; "), { status: 422 });
  return normalised;
}
