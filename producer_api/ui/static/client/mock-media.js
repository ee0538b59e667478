const TINTS = {
    neutral: [128, 128, 128],
    happy: [255, 200, 0],
    sad: [40, 90, 220],
    angry: [220, 30, 30],
    surprised: [240, 120, 240],
    fearful: [110, 40, 160],
    disgusted: [60, 160, 40],
};
const BASE = [128, 128, 128];
const MAX_TINT = 0.45;
export function easedIntensity(intensity, total, index) {
    if (total <= 1)
        return intensity;
    const t = index / (total - 1);
    const ramp = 0.25;
    const edge = Math.min(t, 1 - t) / ramp;
    const level = edge >= 1 ? 1 : edge * edge * (3 - 2 * edge);
    return intensity * level;
}
export function frameColour(emotion, intensity, total, index) {
    const tint = TINTS[emotion ?? "neutral"];
    const mix = MAX_TINT * easedIntensity(intensity, total, index);
    return [0, 1, 2].map((i) => Math.round(BASE[i] * (1 - mix) + tint[i] * mix));
}
let crcTable;
function crc32(parts) {
    if (crcTable === undefined) {
        crcTable = new Uint32Array(256);
        for (let n = 0; n < 256; n++) {
            let c = n;
            for (let k = 0; k < 8; k++)
                c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
            crcTable[n] = c >>> 0;
        }
    }
    let crc = 0xffffffff;
    for (const part of parts) {
        for (const byte of part)
            crc = crcTable[(crc ^ byte) & 0xff] ^ (crc >>> 8);
    }
    return (crc ^ 0xffffffff) >>> 0;
}
function u32(value) {
    const out = new Uint8Array(4);
    new DataView(out.buffer).setUint32(0, value >>> 0);
    return out;
}
function chunk(type, data) {
    const name = new TextEncoder().encode(type);
    return [u32(data.length), name, data, u32(crc32([name, data]))];
}
function zlibStored(raw) {
    const blocks = Math.max(1, Math.ceil(raw.length / 65535));
    const out = new Uint8Array(2 + raw.length + blocks * 5 + 4);
    out[0] = 0x78;
    out[1] = 0x01;
    let at = 2;
    for (let b = 0; b < blocks; b++) {
        const start = b * 65535;
        const length = Math.min(65535, raw.length - start);
        out[at] = b === blocks - 1 ? 1 : 0;
        out[at + 1] = length & 0xff;
        out[at + 2] = length >>> 8;
        out[at + 3] = ~length & 0xff;
        out[at + 4] = (~length >>> 8) & 0xff;
        out.set(raw.subarray(start, start + length), at + 5);
        at += 5 + length;
    }
    let a = 1;
    let s = 0;
    for (const byte of raw) {
        a = (a + byte) % 65521;
        s = (s + a) % 65521;
    }
    new DataView(out.buffer).setUint32(at, ((s << 16) | a) >>> 0);
    return out;
}
export function solidPng(width, height, rgb) {
    const row = 1 + width * 3;
    const raw = new Uint8Array(row * height);
    for (let y = 0; y < height; y++) {
        const at = y * row;
        raw[at] = 0;
        for (let x = 0; x < width; x++)
            raw.set(rgb, at + 1 + x * 3);
    }
    const header = new Uint8Array(13);
    const view = new DataView(header.buffer);
    view.setUint32(0, width);
    view.setUint32(4, height);
    header.set([8, 2, 0, 0, 0], 8);
    const parts = [
        new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
        ...chunk("IHDR", header),
        ...chunk("IDAT", zlibStored(raw)),
        ...chunk("IEND", new Uint8Array(0)),
    ];
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const part of parts) {
        out.set(part, at);
        at += part.length;
    }
    return out;
}
export function placeholder(label) {
    return new TextEncoder().encode(`avatar-render mock output (placeholder bytes)\n${label}\n`);
}
export function readImageHeader(data) {
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    const ascii = (at, length) => String.fromCharCode(...data.subarray(at, at + length));
    if (data.length >= 24 && data[0] === 0x89 && ascii(1, 3) === "PNG" && ascii(12, 4) === "IHDR") {
        return { kind: "png", width: view.getUint32(16), height: view.getUint32(20) };
    }
    if (data.length >= 4 && data[0] === 0xff && data[1] === 0xd8) {
        let at = 2;
        while (at + 9 < data.length) {
            if (data[at] !== 0xff)
                return undefined;
            const marker = data[at + 1];
            const length = view.getUint16(at + 2);
            const isFrame = marker >= 0xc0 && marker <= 0xcf && ![0xc4, 0xc8, 0xcc].includes(marker);
            if (isFrame)
                return { kind: "jpeg", width: view.getUint16(at + 7), height: view.getUint16(at + 5) };
            at += 2 + length;
        }
        return undefined;
    }
    if (data.length >= 30 && ascii(0, 4) === "RIFF" && ascii(8, 4) === "WEBP") {
        const format = ascii(12, 4);
        if (format === "VP8X") {
            const width = 1 + (data[24] | (data[25] << 8) | (data[26] << 16));
            const height = 1 + (data[27] | (data[28] << 8) | (data[29] << 16));
            return { kind: "webp", width, height };
        }
        if (format === "VP8 ") {
            return { kind: "webp", width: view.getUint16(26, true) & 0x3fff, height: view.getUint16(28, true) & 0x3fff };
        }
        if (format === "VP8L") {
            const bits = view.getUint32(21, true);
            return { kind: "webp", width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 };
        }
    }
    return undefined;
}
