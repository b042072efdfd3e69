"""PDF: each page's text layer (pypdf); a page without one, a scan, rendered (pypdfium2) and read by OCR."""

from __future__ import annotations

import io
import re

from index.ingest.formats.base import DocumentError, Extracted, Format, ReadContext, Section, check_text_size
from index.ingest.formats.ocr import DPI, PageReader

# Fewer word characters than this on a page that holds a picture: the text layer is not the page's text
# (a scan with a stamped page number, or a header line over a scanned letter).
SPARSE_CHARS = 40
POINTS_PER_INCH = 72


def read(data: bytes, context: ReadContext) -> Extracted:
    from pypdf import PdfReader

    limits = context.limits
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise DocumentError("encrypted PDF (needs a password)")
        count = len(reader.pages)
        if count > limits.max_pages:
            raise DocumentError(f"has {count:,} pages, over the {limits.max_pages:,} limit (CITEBOT_MAX_PAGES)")
        texts, chars = [], 0
        for page in reader.pages:  # page by page, so a huge PDF stops at the limit, not after extracting it all
            texts.append(page.extract_text() or "")
            chars += len(texts[-1])
            check_text_size(chars, limits.max_chars)
        info = reader.metadata or {}
    except (DocumentError, MemoryError):
        raise
    except Exception as error:  # a parser of damaged input can fail in any way; none may stop the build
        raise DocumentError(f"unreadable PDF ({error.__class__.__name__}: {error})") from None
    sections, ocr = _with_scans(data, texts, context)
    meta = {"title": str(info.get("/Title") or ""), "date": _pdf_date(str(info.get("/CreationDate") or ""))}
    return Extracted(tuple(sections), meta, needed_ocr=ocr.needed, notes=tuple(ocr.finish()))


def _with_scans(data: bytes, texts: list[str], context: ReadContext) -> tuple[list[Section], PageReader]:
    """Pages with text keep it; the others that hold a picture are read by OCR."""
    ocr = PageReader(context)
    sparse = [number for number, text in enumerate(texts) if _sparse(text)]
    scanned = set(_pictured(data, sparse)) if sparse else set()
    sections = []
    for number, text in enumerate(texts):
        place = f"page {number + 1}"
        if number in scanned:
            read = _ocr_page(data, number, ocr, context, place)
            sections.append(Section(read or text, place, ocr=bool(read.strip())))
        else:
            sections.append(Section(text, place))
    return sections, ocr


def _sparse(text: str) -> bool:
    return len(re.findall(r"\w", text)) < SPARSE_CHARS


def _pictured(data: bytes, numbers: list[int]) -> list[int]:
    """Which of these pages hold an image (a blank page is not worth OCR's seconds)."""
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    try:
        document = pdfium.PdfDocument(data)
        found = [n for n in numbers
                 if next(document[n].get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=3), None) is not None]
        document.close()
        return found
    except Exception:  # noqa: BLE001 - pdfium refusing a page pypdf read: keep the text layer
        return []


def _ocr_page(data: bytes, number: int, ocr: PageReader, context: ReadContext, place: str) -> str:
    import pypdfium2 as pdfium

    if not ocr.available:
        return ocr.read(None, place)
    try:
        document = pdfium.PdfDocument(data)
        page = document[number]
        width, height = page.get_size()
        dpi = _dpi(width, height, context.limits.max_pixels)
        image = page.render(scale=dpi / POINTS_PER_INCH, grayscale=True).to_pil()
        document.close()
    except MemoryError:
        raise
    except Exception:  # noqa: BLE001 - a page pdfium cannot draw is left out, the rest is read
        ocr.notes.append(f"{place} could not be drawn for OCR; left out")
        return ""
    return ocr.read(image, place, dpi)


def _dpi(width_points: float, height_points: float, max_pixels: int) -> int:
    """300 dpi, or as many as keep the drawn page within CITEBOT_MAX_PIXELS (a poster-sized page box)."""
    inches = max(width_points, 1.0) * max(height_points, 1.0) / POINTS_PER_INCH**2
    return max(1, min(DPI, int((max_pixels / inches) ** 0.5)))


def _pdf_date(raw: str) -> str:
    match = re.match(r"D:(\d{4})(\d{2})?(\d{2})?", raw)
    return "-".join(part for part in (match.groups() if match else ()) if part)


FORMAT = Format("PDF", (".pdf",), 2, read,
                "each page's text; a page without text that holds a picture (a scan) by OCR; running heads and "
                "page numbers left out; cited by page")
