const ICE_GATHERING_MS = 2000;
function iceGathered(pc) {
    return new Promise((resolve) => {
        if (pc.iceGatheringState === "complete")
            return resolve();
        pc.addEventListener("icegatheringstatechange", () => {
            if (pc.iceGatheringState === "complete")
                resolve();
        });
        setTimeout(resolve, ICE_GATHERING_MS);
    });
}
export async function openWhep(jobId, apiKey, video) {
    const pc = new RTCPeerConnection();
    pc.addTransceiver("video", { direction: "recvonly" });
    pc.addEventListener("track", (event) => {
        video.srcObject = event.streams[0] ?? new MediaStream([event.track]);
    });
    await pc.setLocalDescription(await pc.createOffer());
    await iceGathered(pc);
    const headers = { Authorization: `Bearer ${apiKey}` };
    const response = await fetch(`/v1/renders/${encodeURIComponent(jobId)}/whep`, {
        method: "POST",
        headers: { ...headers, "Content-Type": "application/sdp" },
        body: pc.localDescription?.sdp ?? "",
    });
    if (response.status !== 201) {
        pc.close();
        const body = (await response.json().catch(() => ({})));
        throw new Error(body.error?.message ?? `WHEP answered ${response.status}`);
    }
    const location = response.headers.get("Location");
    await pc.setRemoteDescription({ type: "answer", sdp: await response.text() });
    const end = () => {
        if (location)
            void fetch(location, { method: "DELETE", headers, keepalive: true }).catch(() => { });
    };
    window.addEventListener("pagehide", end, { once: true });
    return {
        close: async () => {
            window.removeEventListener("pagehide", end);
            end();
            pc.close();
        },
    };
}
