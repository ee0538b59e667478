import { ValidationError } from "./errors.js";
import { EMOTIONS, FRAME_FORMATS, isLossyFrameFormat, } from "./types.js";
export const MAX_METADATA_KEYS = 16;
export const MAX_METADATA_KEY_LENGTH = 64;
export const MAX_METADATA_TEXT_LENGTH = 240;
const MAX_ID_LENGTH = 64;
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
    "cache",
    "metadata",
];
const CONTROL_RANGES = {
    smile: [-1, 1],
    eyebrow: [-1, 1],
    eye_open: [-1, 1],
    mouth_open: [0, 1],
    head_pitch: [-20, 20],
    head_yaw: [-30, 30],
    head_roll: [-20, 20],
};
const SIZES = [256, 512];
const OUTPUT_KINDS = ["frames", "mp4"];
const PRIORITIES = ["interactive", "batch"];
function isObject(value) {
    return typeof value === "object" && value !== null && !Array.isArray(value);
}
function isControlKey(key) {
    return Object.hasOwn(CONTROL_RANGES, key);
}
function length(text) {
    let count = 0;
    for (const _ of text)
        count++;
    return count;
}
function number(problems, where, value, min, max, integer) {
    if (typeof value !== "number" || !Number.isFinite(value)) {
        problems.push(`${where}: Input should be a valid ${integer ? "integer" : "number"}`);
    }
    else if (integer && !Number.isInteger(value)) {
        problems.push(`${where}: Input should be a valid integer`);
    }
    else if (value < min) {
        problems.push(`${where}: Input should be greater than or equal to ${min}`);
    }
    else if (value > max) {
        problems.push(`${where}: Input should be less than or equal to ${max}`);
    }
    else {
        return value;
    }
    return undefined;
}
function choice(problems, where, value, allowed) {
    const found = allowed.find((candidate) => candidate === value);
    if (found === undefined) {
        problems.push(`${where}: Input should be ${allowed.map((a) => JSON.stringify(a)).join(", ")}`);
    }
    return found;
}
function string(problems, where, value, max) {
    if (typeof value !== "string")
        problems.push(`${where}: Input should be a valid string`);
    else if (length(value) < 1)
        problems.push(`${where}: String should have at least 1 character`);
    else if (length(value) > max)
        problems.push(`${where}: String should have at most ${max} characters`);
    else
        return value;
    return undefined;
}
function checkControls(problems, value, prefix) {
    if (value === null || value === undefined)
        return null;
    if (!isObject(value)) {
        problems.push(`${prefix}controls: Input should be a valid dictionary or object`);
        return null;
    }
    const out = {};
    for (const key of Object.keys(value)) {
        if (!isControlKey(key))
            problems.push(`${prefix}controls.${key}: Extra inputs are not permitted`);
    }
    for (const key of Object.keys(CONTROL_RANGES).filter(isControlKey)) {
        const [min, max] = CONTROL_RANGES[key];
        const given = value[key];
        out[key] =
            given === null || given === undefined ? null : (number(problems, `${prefix}controls.${key}`, given, min, max, false) ?? null);
    }
    return out;
}
export function checkMetadata(problems, value, prefix = "") {
    const where = `${prefix}metadata`;
    if (value === null || value === undefined)
        return null;
    if (!isObject(value)) {
        problems.push(`${where}: Input should be an object`);
        return null;
    }
    const entries = Object.entries(value);
    if (entries.length > MAX_METADATA_KEYS) {
        problems.push(`${where}: Dictionary should have at most ${MAX_METADATA_KEYS} items after validation, not more`);
        return null;
    }
    const out = {};
    for (const [key, item] of entries) {
        if (length(key) < 1)
            problems.push(`${where}.${key}.[key]: String should have at least 1 character`);
        else if (length(key) > MAX_METADATA_KEY_LENGTH) {
            problems.push(`${where}.${key}.[key]: String should have at most ${MAX_METADATA_KEY_LENGTH} characters`);
        }
        if (typeof item === "string") {
            if (length(item) > MAX_METADATA_TEXT_LENGTH) {
                problems.push(`${where}.${key}.constrained-str: String should have at most ${MAX_METADATA_TEXT_LENGTH} characters`);
            }
            else {
                out[key] = item;
            }
        }
        else if (typeof item === "boolean" || item === null || (typeof item === "number" && Number.isFinite(item))) {
            out[key] = item;
        }
        else {
            problems.push(`${where}.${key}.constrained-str: Input should be a valid string; ${where}.${key}.bool: Input should be a valid boolean; ` +
                `${where}.${key}.int: Input should be a valid integer; ${where}.${key}.float: Input should be a valid number`);
        }
    }
    return out;
}
export function checkRequest(raw, prefix = "") {
    const problems = [];
    const body = prefix ? prefix.slice(0, -1) : "body";
    if (!isObject(raw)) {
        problems.push(`${body}: Input should be a valid dictionary or object`);
        return { problems };
    }
    for (const key of Object.keys(raw)) {
        if (!REQUEST_FIELDS.includes(key))
            problems.push(`${prefix}${key}: Extra inputs are not permitted`);
    }
    const given = (key) => (raw[key] === null ? undefined : raw[key]);
    const or = (key, fallback, check) => raw[key] === undefined ? fallback : check(raw[key]);
    let characterId;
    if (raw["character_id"] === undefined)
        problems.push(`${prefix}character_id: Field required`);
    else
        characterId = string(problems, `${prefix}character_id`, raw["character_id"], MAX_ID_LENGTH);
    const emotionGiven = given("emotion");
    const emotion = emotionGiven === undefined ? null : choice(problems, `${prefix}emotion`, emotionGiven, EMOTIONS);
    const videoGiven = given("driving_video_id");
    const drivingVideoId = videoGiven === undefined ? null : string(problems, `${prefix}driving_video_id`, videoGiven, MAX_ID_LENGTH);
    const controls = checkControls(problems, raw["controls"], prefix);
    const intensity = or("intensity", 0.8, (v) => number(problems, `${prefix}intensity`, v, 0, 1, false));
    const durationMs = or("duration_ms", 2000, (v) => number(problems, `${prefix}duration_ms`, v, 200, 10_000, true));
    const fps = or("fps", 25, (v) => number(problems, `${prefix}fps`, v, 1, 60, true));
    const size = or("size", 512, (v) => choice(problems, `${prefix}size`, v, SIZES));
    const outputs = or("outputs", ["frames", "mp4"], (value) => {
        if (!Array.isArray(value)) {
            problems.push(`${prefix}outputs: Input should be a valid list`);
            return undefined;
        }
        const kinds = [];
        value.forEach((kind, i) => {
            const checked = choice(problems, `${prefix}outputs.${i}`, kind, OUTPUT_KINDS);
            if (checked !== undefined)
                kinds.push(checked);
        });
        if (value.length < 1)
            problems.push(`${prefix}outputs: List should have at least 1 item after validation, not 0`);
        else if (kinds.length === value.length && new Set(kinds).size !== kinds.length) {
            problems.push(`${prefix}outputs: Value error, outputs must not repeat an entry`);
        }
        return kinds;
    });
    const frameFormat = or("frame_format", "png", (v) => choice(problems, `${prefix}frame_format`, v, FRAME_FORMATS));
    const qualityGiven = given("quality");
    const quality = qualityGiven === undefined ? null : number(problems, `${prefix}quality`, qualityGiven, 1, 100, true);
    const priority = or("priority", "interactive", (v) => choice(problems, `${prefix}priority`, v, PRIORITIES));
    const cache = or("cache", true, (v) => choice(problems, `${prefix}cache`, v, [true, false]));
    const metadata = checkMetadata(problems, raw["metadata"], prefix);
    if (problems.length > 0 ||
        characterId === undefined ||
        emotion === undefined ||
        drivingVideoId === undefined ||
        intensity === undefined ||
        durationMs === undefined ||
        fps === undefined ||
        size === undefined ||
        outputs === undefined ||
        frameFormat === undefined ||
        quality === undefined ||
        priority === undefined ||
        cache === undefined) {
        return { problems };
    }
    let motion;
    if (emotion !== null && drivingVideoId === null)
        motion = { emotion, driving_video_id: null };
    else if (emotion === null && drivingVideoId !== null)
        motion = { emotion: null, driving_video_id: drivingVideoId };
    else {
        problems.push(`${body}: Value error, give exactly one of emotion and driving_video_id`);
        return { problems };
    }
    let frames;
    if (isLossyFrameFormat(frameFormat))
        frames = { frame_format: frameFormat, quality };
    else if (quality === null)
        frames = { frame_format: "png", quality: null };
    else {
        problems.push(`${body}: Value error, quality applies to webp and jpeg frames, not png`);
        return { problems };
    }
    const request = {
        character_id: characterId,
        ...motion,
        controls,
        intensity,
        duration_ms: durationMs,
        fps,
        size,
        outputs,
        ...frames,
        priority,
        cache,
        metadata,
    };
    return { problems, request };
}
export function validateRequest(raw) {
    const { problems, request } = checkRequest(raw);
    if (request === undefined)
        throw new ValidationError(problems.join("; "), { status: 422 });
    return request;
}
export function validateBatch(requests) {
    if (!Array.isArray(requests)) {
        throw new ValidationError("requests: Input should be a valid list", { status: 422 });
    }
    const problems = [];
    if (requests.length < 1)
        problems.push("requests: List should have at least 1 item after validation, not 0");
    if (requests.length > 100) {
        problems.push(`requests: List should have at most 100 items after validation, not ${requests.length}`);
    }
    const normalised = [];
    requests.forEach((raw, i) => {
        const checked = checkRequest(raw, `requests.${i}.`);
        problems.push(...checked.problems);
        if (checked.request !== undefined)
            normalised.push(checked.request);
    });
    if (problems.length > 0)
        throw new ValidationError(problems.join("; "), { status: 422 });
    return normalised;
}
