"""A picture of a page (a photo, a scan saved as PNG, JPEG or TIFF; a multi-page TIFF page by page), by OCR."""

from __future__ import annotations

import io

from index.ingest.formats.base import DocumentError, Extracted, Format, ReadContext, Section, damaged
from index.ingest.formats.ocr import DPI, PageReader


def read(data: bytes, context: ReadContext) -> Extracted:
    from PIL import Image

    limits = context.limits
    try:
        Image.MAX_IMAGE_PIXELS = None  # the header alone: our own check below names the size and the setting
        image = Image.open(io.BytesIO(data))  # reads the header only: the size is known before any pixel is
    except Exception as error:  # noqa: BLE001 - Pillow's decoders raise SyntaxError, struct.error and more
        raise damaged("image", error) from None
    finally:
        Image.MAX_IMAGE_PIXELS = limits.max_pixels  # Pillow's own bomb check, on every frame it decodes
    try:
        frames = getattr(image, "n_frames", 1)
    except Exception as error:  # noqa: BLE001 - a TIFF's frame count walks its headers, damaged or not
        raise damaged("image", error) from None
    if frames > limits.max_pages:
        raise DocumentError(f"has {frames:,} pages, over the {limits.max_pages:,} limit (CITEBOT_MAX_PAGES)")
    ocr = PageReader(context)
    sections = []
    for frame in range(frames):
        place = f"page {frame + 1}" if frames > 1 else "the image"
        sections.append(Section(_frame_text(image, frame, place, ocr, limits.max_pixels), place, ocr=True))
    notes = ocr.finish()
    if not any(s.text.strip() for s in sections):
        raise DocumentError(f"a picture with no text OCR could read{': ' + notes[0] if notes else ''}",
                            needed_ocr=True)
    return Extracted(tuple(sections), needed_ocr=ocr.needed, notes=tuple(notes))


def _frame_text(image, frame: int, place: str, ocr: PageReader, max_pixels: int) -> str:
    try:
        image.seek(frame)  # the frame's header: its size, not yet its pixels
        width, height = image.size
        if width * height > max_pixels:
            raise DocumentError(f"{place} is {width:,} × {height:,} pixels, over the {max_pixels:,} limit "
                                "(CITEBOT_MAX_PIXELS)")
        if not ocr.available:
            return ocr.read(None, place)
        image.load()
    except DocumentError:
        raise
    except Exception as error:  # noqa: BLE001 - as above, for a frame's header or its pixels
        raise damaged("image", error) from None
    dpi = image.info.get("dpi", (DPI, DPI))[0]
    return ocr.read(image, place, int(dpi) if isinstance(dpi, (int, float)) and 50 <= dpi <= 1200 else DPI)


FORMAT = Format("pictures of pages", (".png", ".jpg", ".jpeg", ".tif", ".tiff"), 1, read,
                "the text by OCR, a multi-page TIFF page by page; cited as read by OCR")
