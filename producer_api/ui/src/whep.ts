/**
 * A WHEP viewer (RFC 9725) in the browser: offer to receive video, POST it with the
 * API key, play the answer's track in a <video>; DELETE the session's Location to stop.
 * The offer goes out with its ICE candidates (the server takes no trickled ones).
 */

const ICE_GATHERING_MS = 2000;

export interface WhepSession {
  /** End the session (DELETE its Location) and close the connection. */
  close(): Promise<void>;
}

function iceGathered(pc: RTCPeerConnection): Promise<void> {
  return new Promise((resolve) => {
    if (pc.iceGatheringState === "complete") return resolve();
    pc.addEventListener("icegatheringstatechange", () => {
      if (pc.iceGatheringState === "complete") resolve();
    });
    setTimeout(resolve, ICE_GATHERING_MS); // send what we have: the server finds us anyway
  });
}

/** Watch render `jobId` in `video`; rejects with the API's message when refused. */
export async function openWhep(jobId: string, apiKey: string, video: HTMLVideoElement): Promise<WhepSession> {
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
    const body = (await response.json().catch(() => ({}))) as { error?: { message?: string } };
    throw new Error(body.error?.message ?? `WHEP answered ${response.status}`);
  }
  const location = response.headers.get("Location");
  await pc.setRemoteDescription({ type: "answer", sdp: await response.text() });
  const end = (): void => {
    if (location) void fetch(location, { method: "DELETE", headers, keepalive: true }).catch(() => {});
  };
  window.addEventListener("pagehide", end, { once: true }); // leaving the page ends it too
  return {
    close: async () => {
      window.removeEventListener("pagehide", end);
      end();
      pc.close();
    },
  };
}
