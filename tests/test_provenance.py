"""Provenance flags: C2PA manifests signed here, AI markers without C2PA, screenshots, the
declaration. Flags never refuse an entry; they reach the admin's list, page and entries.csv."""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import sys

import pytest
from PIL import Image, PngImagePlugin
from sqlalchemy import func, select

from contest.core.extensions import db
from contest.media import photo_worker, provenance
from contest.media.photo_worker import DecodeLimits
from contest.models import Entry, Flag
from contest.services.exports import ENTRIES_HEADER
from contest.services.flags import PROVENANCE_KINDS

from .conftest import entry_form, stored_files
from .media.videogen import write_clip
from .photos import photo_bytes, photo_image
from .signing import make_signer, sign

AI = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
CAPTURE = "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture"


@pytest.fixture(scope="module")
def signer_pem() -> tuple[bytes, bytes]:
    """A CA-issued ES256 signer made for this module (see `tests/signing.py`)."""
    return make_signer()


# --- helpers -----------------------------------------------------------------------------------


def camera_jpeg(
    size: tuple[int, int] = (1200, 900), xmp: bytes | None = None, **exif_tags
) -> bytes:
    """A photo with a camera's make and model in EXIF (so no screenshot hint), and `xmp`."""
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "samsung", "SM-S921N"
    for tag, value in exif_tags.items():
        exif[getattr(Image.ExifTags.Base, tag)] = value
    out = io.BytesIO()
    extra = {"xmp": xmp} if xmp is not None else {}
    photo_image(size).save(out, "JPEG", quality=90, exif=exif, **extra)
    return out.getvalue()


def _accepted(app, submit, data: bytes, filename: str = "photo.jpg") -> Entry:
    response = submit(json=True, media=data, filename=filename)
    assert response.status_code == 201, response.get_json()
    code = response.get_json()["receipt"]
    with app.app_context():
        entry = db.session.scalars(select(Entry).where(Entry.receipt == code)).one()
        return entry


def _flags(app, entry_id: int) -> dict[str, str]:
    with app.app_context():
        rows = db.session.scalars(select(Flag).where(Flag.entry_id == entry_id))
        return {flag.kind: flag.detail for flag in rows}


# --- C2PA --------------------------------------------------------------------------------------


def test_a_signed_ai_declared_photo_is_flagged_and_its_summary_shown_to_admins(
    app, client, submit, admin, signer_pem
):
    signed = sign(camera_jpeg(), "image/jpeg", signer_pem, AI)
    entry = _accepted(app, submit, signed)

    manifest = entry.provenance["c2pa"]
    assert manifest["state"] == "untrusted"  # it verifies; no trust list knows our test CA
    assert manifest["generator"].startswith("Contest Test Camera 1.0")
    assert manifest["signer"] == "Contest Test Lab / Contest Test Signer"
    assert manifest["actions"] == ["created"]
    assert manifest["ai"] == "trainedAlgorithmicMedia"
    found = _flags(app, entry.id)
    assert "C2PA digitalSourceType: trainedAlgorithmicMedia" in found["ai_declared"]
    assert "c2pa_invalid" not in found and "provenance_unreadable" not in found
    assert entry.declared_at is not None and entry.consent_version == "2026-12-v2"

    page = client.get(f"/admin/entries/{entry.id}").get_data(as_text=True)
    assert 'data-c2pa-state="untrusted"' in page
    assert "Contest Test Lab / Contest Test Signer" in page
    assert "trainedAlgorithmicMedia" in page
    assert 'data-flag="ai_declared"' in page


def test_a_signer_under_a_configured_trust_anchor_is_valid(make_app, signer_pem, tmp_path):
    chain, _ = signer_pem
    anchors = tmp_path / "anchors.pem"
    anchors.write_bytes(chain[chain.index(b"-----END CERTIFICATE-----") + 26 :])  # the CA
    app = make_app(C2PA_TRUST_ANCHORS=str(anchors))
    response = app.test_client().post(
        "/submit",
        data=entry_form(media=sign(camera_jpeg(), "image/jpeg", signer_pem, CAPTURE)),
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 201, response.get_json()
    with app.app_context():
        entry = db.session.scalars(select(Entry)).one()
        assert entry.provenance["c2pa"]["state"] == "valid"
        assert entry.provenance["c2pa"]["ai"] is None
    assert not set(_flags(app, entry.id)) & set(PROVENANCE_KINDS)


def test_a_photo_changed_after_signing_is_flagged_c2pa_invalid(app, submit, signer_pem):
    signed = bytearray(sign(camera_jpeg(), "image/jpeg", signer_pem, CAPTURE))
    signed[-300] ^= 0xFF  # inside the scan data: the picture still decodes, the hash no longer
    entry = _accepted(app, submit, bytes(signed))

    assert entry.provenance["c2pa"]["state"] == "content_changed"
    assert "assertion.dataHash.mismatch" in entry.provenance["c2pa"]["codes"]
    found = _flags(app, entry.id)
    assert "서명한 뒤 내용이 바뀌었습니다" in found["c2pa_invalid"]
    assert "ai_declared" not in found  # a camera capture


def test_a_damaged_manifest_is_unreadable_and_the_entry_still_accepted(app, submit, signer_pem):
    signed = bytearray(sign(camera_jpeg(), "image/jpeg", signer_pem, CAPTURE))
    start = signed.find(b"jumb")
    signed[start + 40 : start + 400] = bytes(360)
    entry = _accepted(app, submit, bytes(signed))

    assert entry.provenance["unreadable"].startswith("C2PA:")
    assert "출처 정보를 읽지 못했습니다" in _flags(app, entry.id)["provenance_unreadable"]


def test_a_signed_video_is_read_too(app, submit, signer_pem, tmp_path):
    clip = write_clip(tmp_path / "clip.mp4", seconds=1.2).read_bytes()
    entry = _accepted(app, submit, sign(clip, "video/mp4", signer_pem, AI), "clip.mp4")

    assert entry.is_video
    assert entry.provenance["c2pa"]["state"] == "untrusted"
    assert "ai_declared" in _flags(app, entry.id)


def test_a_reading_that_runs_out_of_time_is_unreadable_not_refused(tmp_path):
    path = tmp_path / "photo.jpg"
    path.write_bytes(camera_jpeg())
    # A fresh child (no idle one) needs well over the 0.1 s floor `decode` gives just to start.
    photo_worker._close_idle()
    summary = provenance.read(path, "image/jpeg", DecodeLimits(timeout=0.0), 1 << 28)
    assert summary == {"unreadable": "timeout"}


def test_a_child_that_left_just_before_the_job_costs_a_retry_not_a_flag(tmp_path):
    path = tmp_path / "photo.jpg"
    path.write_bytes(camera_jpeg())
    # What a child recycled after a large decode looks like when handed out in the moment
    # before it exits: alive at checkout, gone before it answers.
    leaving = photo_worker._Worker.__new__(photo_worker._Worker)
    leaving.proc = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(0.3)"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    leaving.owner = os.getpid()
    photo_worker._idle.append(leaving)
    summary = provenance.read(path, "image/jpeg", DecodeLimits(timeout=10), 1 << 28)
    assert summary == {}
    assert leaving.proc.poll() is not None


# --- without C2PA ------------------------------------------------------------------------------


def test_xmp_digital_source_type_declares_ai(app, submit):
    xmp = (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF'
        b' xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        b'<rdf:Description xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"'
        b' Iptc4xmpExt:DigitalSourceType="' + AI.encode() + b'"/></rdf:RDF></x:xmpmeta>'
    )
    entry = _accepted(app, submit, camera_jpeg(xmp=xmp))
    assert entry.provenance["ai_markers"] == ["XMP DigitalSourceType: trainedAlgorithmicMedia"]
    assert "XMP DigitalSourceType" in _flags(app, entry.id)["ai_declared"]


def test_a_generator_name_in_exif_software_declares_ai(app, submit):
    entry = _accepted(app, submit, camera_jpeg(Software="Adobe Firefly Image 3"))
    assert "generator: Adobe Firefly" in _flags(app, entry.id)["ai_declared"]


def test_png_generation_parameters_declare_ai(app, submit):
    text = PngImagePlugin.PngInfo()
    text.add_text("parameters", "a cat at COEX, Steps: 30, Sampler: Euler a, Seed: 42")
    out = io.BytesIO()
    photo_image((1200, 900)).save(out, "PNG", pnginfo=text)
    entry = _accepted(app, submit, out.getvalue(), "photo.png")
    assert "PNG text 'parameters'" in _flags(app, entry.id)["ai_declared"]


def test_a_plain_camera_photo_raises_no_provenance_flag(app, submit):
    entry = _accepted(app, submit, camera_jpeg())
    assert entry.provenance == {}
    assert not set(_flags(app, entry.id)) & set(PROVENANCE_KINDS)


# --- screenshots and re-posts ------------------------------------------------------------------


def test_a_phone_screen_sized_image_without_camera_data_is_a_screenshot(app, submit):
    screen = photo_bytes("PNG", size=(1170, 2532))
    entry = _accepted(app, submit, screen, "screen.png")
    assert "1170×2532" in _flags(app, entry.id)["screenshot"]


def test_the_same_size_from_a_camera_is_not_a_screenshot(app, submit):
    entry = _accepted(app, submit, camera_jpeg(size=(1170, 2532)))
    assert "screenshot" not in _flags(app, entry.id)


def test_a_messenger_sized_jpeg_without_exif_is_a_possible_repost(app, submit):
    reposted = photo_bytes("JPEG", size=(1280, 960), quality=70)
    entry = _accepted(app, submit, reposted)
    assert "메신저" in _flags(app, entry.id)["screenshot"]
    original = photo_bytes("JPEG", size=(1300, 975), quality=70)  # not a messenger's size
    assert "screenshot" not in _flags(app, _accepted(app, submit, original).id)


# --- the declaration ---------------------------------------------------------------------------


def test_the_declaration_is_required_next_to_its_field_and_nothing_is_stored(
    app, submit, upload_folder
):
    response = submit(declaration=None)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    error = re.search(r'<p class="field-error" id="declaration-error">(.*?)</p>', page, re.S)
    assert error and "AI로 만들지 않았음을 확인해야" in error.group(1)
    assert 'name="declaration"' in page and '<label for="declaration"' in page
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Entry)) == 0
    assert [f for f in stored_files(upload_folder) if not f.startswith("tmp/")] == []

    answer = submit(json=True, declaration=None)
    assert answer.status_code == 400
    assert "declaration" in answer.get_json()["errors"]


def test_the_declaration_reads_in_english_too(client):
    page = client.get("/submit", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "did not generate or composite it with AI tools" in page


# --- the admin's list and the CSV --------------------------------------------------------------


def test_the_entries_list_filters_and_entries_csv_carries_the_codes(app, client, submit, admin):
    plain = _accepted(app, submit, camera_jpeg())
    screen = _accepted(app, submit, photo_bytes("PNG", size=(1080, 2340)), "screen.png")
    generated = _accepted(app, submit, camera_jpeg(Software="Midjourney v7"))

    def listed(kind: str) -> set[int]:
        page = client.get(f"/admin/entries?flag={kind}").get_data(as_text=True)
        return {int(n) for n in re.findall(r'data-entry="(\d+)"', page)}

    assert listed("screenshot") == {screen.id}
    assert listed("ai_declared") == {generated.id}
    assert plain.id in listed("any")  # its capture-time flag: the filter is by kind

    rows = list(csv.reader(io.StringIO(client.get("/admin/export/entries.csv").text)))
    flags_column = rows[0].index(ENTRIES_HEADER[6])
    cells = {row[flags_column] for row in rows[1:]}
    assert any("screenshot" in cell for cell in cells)
    assert any("ai_declared" in cell for cell in cells)


def test_the_summary_of_a_manifest_store_names_each_state():
    assert provenance.validation_state("Trusted", []) == "valid"
    assert provenance.validation_state("Valid", ["signingCredential.untrusted"]) == "untrusted"
    assert provenance.validation_state("Invalid", ["claimSignature.mismatch"]) == (
        "signature_invalid"
    )
    assert provenance.validation_state("Invalid", ["assertion.dataHash.mismatch"]) == (
        "content_changed"
    )
