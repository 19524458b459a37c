"""Photos and clips carrying what cameras and phones write about place, owner and device.

Made inside the tests (no binary committed): the public copies must lose all of it and the
purge must strip it from the originals it keeps.
"""

from __future__ import annotations

import io

from PIL import ExifTags, Image, ImageCms, ImageDraw

from .photos import photo_image

OWNER = "Hong Gildong"
BODY_SERIAL = "SN-0123456789"
LENS_SERIAL = "LENS-98765"
MAKER_NOTE = b"Canon\x00SERIAL-MN-4242\x00" + bytes(40)
HOST = "HONG-PC"
XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf'
    b'-syntax-ns#"><rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" xmlns:dc="http:'
    b'//purl.org/dc/elements/1.1/" exif:GPSLatitude="37,33.99N" exif:GPSLongitude="126,58.68E">'
    b"<dc:creator>Hong Gildong</dc:creator></rdf:Description></rdf:RDF></x:xmpmeta>"
)
# Tags that say who owns the camera or which camera it is (IFD0 and the Exif IFD).
CAMERA_OWNER_NAME, BODY_SERIAL_NUMBER, LENS_SERIAL_NUMBER = 0xA430, 0xA431, 0xA435
HOST_COMPUTER, MAKER_NOTE_TAG = 0x013C, 0x927C
PERSONAL_STRINGS = (
    OWNER.encode(),
    BODY_SERIAL.encode(),
    LENS_SERIAL.encode(),
    b"SERIAL-MN",
    HOST.encode(),
)


def camera_exif(orientation: int = 1) -> Image.Exif:
    """EXIF as a camera owned and set up by someone writes it: place, owner, serials."""
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.Base.Make] = "Canon"
    exif[ExifTags.Base.Model] = "EOS R5"
    exif[ExifTags.Base.Artist] = OWNER
    exif[ExifTags.Base.Copyright] = f"(c) {OWNER}"
    exif[HOST_COMPUTER] = HOST
    sub = exif.get_ifd(ExifTags.IFD.Exif)
    sub[ExifTags.Base.DateTimeOriginal] = "2026:12:03 10:00:00"
    sub[CAMERA_OWNER_NAME] = OWNER
    sub[BODY_SERIAL_NUMBER] = BODY_SERIAL
    sub[LENS_SERIAL_NUMBER] = LENS_SERIAL
    sub[MAKER_NOTE_TAG] = MAKER_NOTE
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (37.0, 33.0, 59.4)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (126.0, 58.0, 40.8)
    return exif


def marked_picture(size: tuple[int, int] = (1200, 900)) -> Image.Image:
    """A picture with a pure red square in its stored top-left corner, to follow rotations."""
    im = photo_image(size)
    ImageDraw.Draw(im).rectangle((0, 0, 99, 99), fill=(255, 0, 0))
    return im


def camera_jpeg(size: tuple[int, int] = (1200, 900), orientation: int = 1) -> bytes:
    """A JPEG with EXIF (GPS, owner, serials, maker note), XMP, an ICC profile and a comment."""
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    out = io.BytesIO()
    marked_picture(size).save(
        out,
        "JPEG",
        quality=90,
        exif=camera_exif(orientation),
        xmp=XMP,
        icc_profile=icc,
        comment=f"shot by {OWNER}",
    )
    return out.getvalue()


def camera_png(size: tuple[int, int] = (1200, 900)) -> bytes:
    """A PNG with the same EXIF (eXIf chunk) and XMP (iTXt), as phones' screenshots carry."""
    out = io.BytesIO()
    marked_picture(size).save(out, "PNG", exif=camera_exif(), xmp=XMP)
    return out.getvalue()
