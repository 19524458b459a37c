"""Where a photo or video says it came from: its C2PA manifest, AI-generation markers, screenshots.

Read from the ORIGINAL as uploaded (before any derivative drops its metadata), in the same
capped child processes that decode photos (`photo_worker`: a job "provenance"), with its own
memory reservation and time limit: C2PA parsing is Rust code over hostile bytes, and XMP and
EXIF come from Pillow's header parsers. What is found is a short summary (plain JSON, stored
with the entry) from which `services/flags.py` raises advisory flags. Nothing here ever refuses
an entry: a parser error, a crash or a time-out is reported as "unreadable" and becomes a
`provenance_unreadable` flag.

What is detected, and how far it can be trusted:
- C2PA: claim generator, signer, actions, a `digitalSourceType` of trainedAlgorithmicMedia or
  compositeWithTrainedAlgorithmicMedia (declared AI), and the validation state. A signer is
  trusted only through the CA certificates of `C2PA_TRUST_ANCHORS` (none by default): a
  signature that verifies from another signer is "untrusted" (shown, not flagged); a signature
  that does not verify, or content changed since signing, is flagged.
  Remote manifests are never fetched (the server must not be made to call out).
- Without C2PA: XMP `DigitalSourceType` (IPTC), generator names in EXIF Software/Artist/
  ImageDescription and in XMP ("Made with Google AI", Firefly, DALL-E, Midjourney...), PNG text
  chunks holding generation parameters (Stable Diffusion's "parameters", ComfyUI's "prompt").
  These are declarations a tool wrote: stripping them is easy, so their absence proves nothing.
- Screenshot or re-post: no camera make/model and the exact pixel size of a common phone screen
  (PHONE_SCREENS), or a JPEG with no EXIF at all at a size messengers resize to (long side 1280,
  1600 or 2560 px: KakaoTalk's normal/high quality, WhatsApp) with quantisation at or below
  quality 85. A hint for a human, never proof.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from contest.media import photo_worker
from contest.media.photo_worker import DecodeLimits

# IPTC's digital source types that declare generative AI.
AI_SOURCE_TYPES = ("trainedAlgorithmicMedia", "compositeWithTrainedAlgorithmicMedia")
# Generator names tools write into EXIF or XMP text (lower-cased match).
GENERATOR_MARKERS = {
    "made with google ai": "Made with Google AI",
    "firefly": "Adobe Firefly",
    "dall-e": "DALL·E",
    "dall·e": "DALL·E",
    "midjourney": "Midjourney",
    "stable diffusion": "Stable Diffusion",
}
# PNG text chunks that image generators write their settings into.
PNG_GENERATION_KEYS = {
    "parameters": "Stable Diffusion (AUTOMATIC1111) parameters",
    "prompt": "ComfyUI prompt",
    "workflow": "ComfyUI workflow",
    "dream": "InvokeAI dream",
    "sd-metadata": "InvokeAI sd-metadata",
}
# Exact screen sizes of common phones, portrait (width, height); landscape matches too.
PHONE_SCREENS = {
    (750, 1334): "iPhone 6–8, SE",
    (828, 1792): "iPhone XR, 11",
    (1125, 2436): "iPhone X, XS, 11 Pro",
    (1242, 2688): "iPhone XS Max, 11 Pro Max",
    (1080, 2340): "iPhone 12/13 mini, Galaxy S23/S24, A series",
    (1170, 2532): "iPhone 12–14",
    (1284, 2778): "iPhone 12/13 Pro Max, 14 Plus",
    (1179, 2556): "iPhone 14 Pro, 15, 16",
    (1290, 2796): "iPhone 14 Pro Max, 15 Plus/Pro Max, 16 Plus",
    (1206, 2622): "iPhone 16 Pro",
    (1320, 2868): "iPhone 16 Pro Max",
    (1080, 2400): "Galaxy S20/S21, A series, Pixel 6/7",
    (1440, 3200): "Galaxy S20/S21 Ultra",
    (1440, 3088): "Galaxy S22/S23 Ultra",
    (1440, 3120): "Galaxy S24 Ultra",
    (1080, 2640): "Galaxy Z Flip",
    (1080, 2424): "Pixel 8",
    (1344, 2992): "Pixel 8 Pro",
}
# Long sides messengers resize photos to before re-encoding them without EXIF.
MESSENGER_LONG_SIDES = (1280, 1600, 2560)
MESSENGER_MAX_QUALITY = 85
# The sum of libjpeg's standard luminance table (quality 50; ITU T.81, K.1), to estimate the
# quality a JPEG was saved at from its own table's sum (order does not matter).
_STANDARD_LUMA_SUM = 3688
_SNIFF_BYTES = 256 * 1024  # where XMP and PNG text sit in camera and generator files
# C2PA validation codes meaning the signature itself does not verify.
_SIGNATURE_CODES = ("claimSignature.mismatch", "signingCredential.invalid", "timeStamp.mismatch")
_C2PA_SETTINGS = {"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}}
_TEXT_LIMIT = 120


def read(
    path: Path,
    content_type: str,
    limits: DecodeLimits,
    memory_bytes: int,
    trust_anchors: str | None = None,
) -> dict[str, Any]:
    """The provenance summary of an accepted upload; never raises for what the file holds.

    Runs in a capped child (`limits`: the server's decode budget and this reading's own time
    limit). A child that crashed, ran out of memory or time gives {"unreadable": reason}.
    `trust_anchors`: PEM CA certificates whose C2PA signers are trusted (None: none is).
    """
    job = {
        "op": "provenance",
        "path": str(path),
        "content_type": content_type,
        "trust_anchors": trust_anchors,
    }
    for attempt in range(2):
        try:
            summary, _ = photo_worker.decode(job, memory_bytes, limits)
        except photo_worker._Refused as why:
            # A child that leaves after a large decode (photo_worker.RECYCLE_GROWTH_BYTES) can
            # be handed out in the moment before it is gone: the job meets a closed pipe.
            # Measured here after a zoom copy; one fresh child settles it, and a file that
            # really crashes the reader crashes the second child too.
            if why.reason == "crashed" and attempt == 0:
                continue
            return {"unreadable": why.reason}
        summary.pop("lengths", None)
        return summary
    raise AssertionError("unreachable")


def run_job(job: Mapping[str, Any]) -> tuple[dict, list[bytes]]:
    """The child's side: read everything it can, each part failing on its own."""
    path = Path(job["path"])
    content_type = str(job["content_type"])
    summary: dict[str, Any] = {}
    problems: list[str] = []
    try:
        manifest = read_c2pa(path, content_type, job.get("trust_anchors"))
        if manifest is not None:
            summary["c2pa"] = manifest
    except MemoryError:
        raise
    except Exception as why:  # the binding raises C2paError subclasses and ctypes errors
        problems.append(f"C2PA: {_short(str(why))}")
    if content_type.startswith("image/"):
        try:
            markers, screenshot = read_image_metadata(path)
            if markers:
                summary["ai_markers"] = markers
            if screenshot:
                summary["screenshot"] = screenshot
        except MemoryError:
            raise
        except Exception as why:  # Pillow's header parsers raise many kinds on hostile bytes
            problems.append(f"metadata: {_short(str(why))}")
    if problems:
        summary["unreadable"] = "; ".join(problems)
    return summary, []


def read_c2pa(
    path: Path, content_type: str, trust_anchors: str | None = None
) -> dict[str, Any] | None:
    """The active manifest's summary, or None when the file carries no C2PA data."""
    import c2pa  # loaded by the child that needs it only: a large native library

    if content_type not in c2pa.Reader.get_supported_mime_types():
        return None  # WebM, Matroska: C2PA defines no embedding the library reads
    settings = dict(_C2PA_SETTINGS)
    if trust_anchors:
        settings["trust"] = {"trust_anchors": trust_anchors}
    context = c2pa.Context.from_dict(settings)
    with open(path, "rb") as stream:
        if content_type == "image/jpeg" and not jpeg_may_hold_c2pa(stream.read(_SNIFF_BYTES)):
            return None
        stream.seek(0)
        reader = c2pa.Reader.try_create(content_type, stream, context=context)
        if reader is None:
            return None
        with reader:
            store = json.loads(reader.json())
            state = reader.get_validation_state() or ""
    return summarise_manifest_store(store, state)


def jpeg_may_hold_c2pa(head: bytes) -> bool:
    """Whether a JPEG's segments before its image data include APP11, where C2PA embeds its
    manifest store (JUMBF). Walking the markers takes microseconds; the library, given a
    JPEG without one, read the whole file (~20-30 ms for 12 MP). True when unsure (headers
    longer than `head`, or a structure that does not parse)."""
    return _walk_jpeg(head)[1]


def _walk_jpeg(head: bytes) -> tuple[int, bool]:
    """(where the JPEG's headers end in `head`, whether they hold APP11 or may)."""
    offset = 2
    while offset + 4 <= len(head):
        if head[offset] != 0xFF:
            return len(head), True
        marker = head[offset + 1]
        if marker == 0xFF:  # fill byte
            offset += 1
            continue
        if marker == 0xEB:  # APP11
            return len(head), True
        if marker == 0xDA:  # start of scan: the headers are over
            return offset, False
        if 0xD0 <= marker <= 0xD8 or marker == 0x01:  # markers without a length
            offset += 2
            continue
        offset += 2 + int.from_bytes(head[offset + 2 : offset + 4], "big")
    return len(head), True


def summarise_manifest_store(store: Mapping[str, Any], state: str) -> dict[str, Any]:
    """The few facts an organiser needs from a C2PA manifest store (c2pa's JSON)."""
    label = store.get("active_manifest")
    manifest = store.get("manifests", {}).get(label, {}) if label else {}
    generators = [
        " ".join(str(part) for part in (info.get("name"), info.get("version")) if part)
        for info in manifest.get("claim_generator_info", [])
        if isinstance(info, Mapping)
    ]
    generator = ", ".join(g for g in generators if g) or str(manifest.get("claim_generator", ""))
    signature = manifest.get("signature_info") or {}
    signer = " / ".join(
        str(part) for part in (signature.get("issuer"), signature.get("common_name")) if part
    )
    actions: list[str] = []
    sources: list[str] = []
    for assertion in manifest.get("assertions", []):
        if not str(assertion.get("label", "")).startswith("c2pa.actions"):
            continue
        for action in assertion.get("data", {}).get("actions", []):
            actions.append(str(action.get("action", "")).removeprefix("c2pa."))
            source = str(action.get("digitalSourceType", ""))
            if source:
                sources.append(source.rstrip("/").rsplit("/", 1)[-1])
    codes = [str(s.get("code", "")) for s in store.get("validation_status", [])]
    return {
        "state": validation_state(state, codes),
        "generator": _short(generator),
        "signer": _short(signer),
        "actions": sorted(set(filter(None, actions)))[:10],
        "ai": next((s for s in sources if s in AI_SOURCE_TYPES), None),
        "codes": codes[:8],
    }


def validation_state(state: str, codes: list[str]) -> str:
    """valid (a trusted signer), untrusted (verifies, signer unknown), signature_invalid,
    content_changed, or invalid (another failure), from c2pa's state and status codes."""
    if state.lower() == "trusted":
        return "valid"
    if state.lower() == "valid":
        return "untrusted" if "signingCredential.untrusted" in codes else "valid"
    if any(code in _SIGNATURE_CODES for code in codes):
        return "signature_invalid"
    if any(code.endswith("Hash.mismatch") or code.endswith("hashedURI.mismatch") for code in codes):
        return "content_changed"
    return "invalid"


def read_image_metadata(path: Path) -> tuple[list[str], str | None]:
    """(AI markers found in XMP, EXIF and PNG text; a screenshot or re-post reason or None).

    Headers only: Pillow opens the file without decoding pixels.
    """
    from PIL import ExifTags, Image

    with open(path, "rb") as f:
        head = f.read(_SNIFF_BYTES)
        f.seek(0)
        with Image.open(f) as im:
            size = im.size
            fmt = im.format or ""
            info = dict(im.info)
            exif = im.getexif()
            quantization = getattr(im, "quantization", None) or {}
    markers: list[str] = []
    xmp = info.get("xmp") or b""
    if isinstance(xmp, str):
        xmp = xmp.encode("utf-8", "replace")
    # Some writers put XMP where Pillow does not look (a second APP1): a JPEG's headers too
    # (only the headers: scanning 256 kB of image data cost ~20 ms a photo, for nothing).
    if fmt in ("JPEG", "MPO"):
        head = head[: _walk_jpeg(head)[0]]
    xmp_bytes = bytes(xmp).lower() + b" " + head.lower()
    for source in AI_SOURCE_TYPES:
        if re.search(rb"digitalsourcetype/" + source.lower().encode() + rb"\b", xmp_bytes):
            markers.append(f"XMP DigitalSourceType: {source}")
            break
    texts = [
        str(exif.get(tag, ""))
        for tag in (ExifTags.Base.Software, ExifTags.Base.Artist, ExifTags.Base.ImageDescription)
    ]
    if fmt == "PNG":
        for key, what in PNG_GENERATION_KEYS.items():
            if isinstance(info.get(key), str) and info[key].strip():
                markers.append(f"PNG text '{key}': {what}")
        texts += [v for v in info.values() if isinstance(v, str)]
    lowered = " ".join(texts).lower()
    for needle, name in GENERATOR_MARKERS.items():
        found = needle in lowered or needle.encode() in xmp_bytes
        if found and f"generator: {name}" not in markers:
            markers.append(f"generator: {name}")
    has_camera = bool(exif.get(ExifTags.Base.Make) or exif.get(ExifTags.Base.Model))
    return markers, screenshot_reason(size, has_camera, bool(exif), fmt, quantization)


def screenshot_reason(
    size: tuple[int, int],
    has_camera: bool,
    has_exif: bool,
    fmt: str,
    quantization: Mapping[int, Any],
) -> str | None:
    """Why the image looks like a screenshot or a messenger's re-post, or None."""
    if has_camera:
        return None
    portrait = (min(size), max(size))
    if portrait in PHONE_SCREENS:
        phone = PHONE_SCREENS[portrait]
        return f"카메라 정보 없음, 휴대전화 화면 크기 {size[0]}×{size[1]} ({phone})"
    if fmt in ("JPEG", "MPO") and not has_exif and max(size) in MESSENGER_LONG_SIDES:
        quality = jpeg_quality(quantization)
        if quality is not None and quality <= MESSENGER_MAX_QUALITY:
            return (
                f"EXIF 없는 JPEG, 긴 변 {max(size)}픽셀, 품질 약 {quality}:"
                " 메신저로 받은 사진일 수 있음"
            )
    return None


def jpeg_quality(quantization: Mapping[int, Any]) -> int | None:
    """libjpeg's quality setting that would give this luminance table (an estimate)."""
    table = quantization.get(0)
    if not table:
        return None
    scale = sum(table) * 100 / _STANDARD_LUMA_SUM  # libjpeg: table = standard * scale / 100
    quality = (200 - scale) / 2 if scale <= 100 else 5000 / scale
    return max(1, min(100, round(quality)))


def _short(text: str) -> str:
    return text if len(text) <= _TEXT_LIMIT else text[: _TEXT_LIMIT - 1] + "…"
