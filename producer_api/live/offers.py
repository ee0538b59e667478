"""Is an SDP offer one a live session can answer? Checked before any peer connection exists.

A WHEP offer must ask to receive video (``recvonly`` or ``sendrecv``) in a codec we send
(VP8 or H.264), with ICE credentials, RTCP multiplexing and a DTLS fingerprint, the rules
aiortc would otherwise enforce half-way through a negotiation.
"""

from __future__ import annotations

from aiortc.sdp import SessionDescription

from render_core.errors import InvalidInput

MAX_OFFER_BYTES = 64 * 1024
CODECS = frozenset({"video/vp8", "video/h264"})


class InvalidOffer(InvalidInput):
    """The body is not an SDP offer that can receive our video."""

    code = "invalid_sdp"
    http_status = 400


def check_offer(sdp: str) -> SessionDescription:
    """The parsed offer; ``InvalidOffer`` saying what is wrong otherwise."""
    try:
        parsed = SessionDescription.parse(sdp)
    except Exception as exc:  # the parser fails in many ways on arbitrary text
        raise InvalidOffer(f"the body is not an SDP offer ({type(exc).__name__})") from exc
    videos = [m for m in parsed.media if m.kind == "video"]
    if not videos:
        raise InvalidOffer("the offer has no video section")
    for media in parsed.media:
        if media.ice is None or not (media.ice.usernameFragment and media.ice.password):
            raise InvalidOffer(f"the {media.kind} section has no ice-ufrag / ice-pwd")
        if media.kind in ("audio", "video") and not media.rtcp_mux:
            raise InvalidOffer(f"the {media.kind} section does not use rtcp-mux")
        if media.dtls is None or not media.dtls.fingerprints:
            raise InvalidOffer(f"the {media.kind} section has no DTLS fingerprint")
    receiving = [m for m in videos if m.direction in (None, "recvonly", "sendrecv")]
    if not receiving:
        raise InvalidOffer("the offer does not ask to receive video (recvonly or sendrecv)")
    if not any(c.mimeType.lower() in CODECS for m in receiving for c in m.rtp.codecs):
        raise InvalidOffer("the offer has neither VP8 nor H.264 video")
    return parsed
