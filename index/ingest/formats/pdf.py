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
    drawn = _Drawing(data) if sparse else None
    try:
        scanned = set(drawn.pictured(sparse)) if drawn is not None else set()
        sections = []
        for number, text in enumerate(texts):
            place = f"page {number + 1}"
            if number in scanned:
                read = ocr.read(None, place) if not ocr.available else drawn.read(number, ocr, context, place)
                sections.append(Section(read or text, place, ocr=bool(read.strip())))
            else:
                sections.append(Section(text, place))
    finally:
        if drawn is not None:
            drawn.close()
    return sections, ocr


def _sparse(text: str) -> bool:
    return len(re.findall(r"\w", text)) < SPARSE_CHARS


class _Drawing:
    """The PDF opened once in pdfium, to find the pages that hold pictures and draw them for OCR."""

    def __init__(self, data: bytes) -> None:
        import pypdfium2 as pdfium

        try:
            self._document = pdfium.PdfDocument(data)
        except Exception:  # noqa: BLE001 - pdfium refusing a file pypdf read: keep the text layer
            self._document = None

    def pictured(self, numbers: list[int]) -> list[int]:
        """Which of these pages hold an image (a blank page is not worth OCR's seconds)."""
        import pypdfium2.raw as pdfium_c

        if self._document is None:
            return []
        try:
            return [n for n in numbers if next(self._document[n].get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE],
                                                                             max_depth=3), None) is not None]
        except Exception:  # noqa: BLE001 - as above
            return []

    def read(self, number: int, ocr: PageReader, context: ReadContext, place: str) -> str:
        try:
            page = self._document[number]
            width, height = page.get_size()
            dpi = _dpi(width, height, context.limits.max_pixels)
            image = page.render(scale=dpi / POINTS_PER_INCH, grayscale=True).to_pil()
        except MemoryError:
            raise
        except Exception:  # noqa: BLE001 - a page pdfium cannot draw is left out, the rest is read
            ocr.notes.append(f"{place} could not be drawn for OCR; left out")
            return ""
        return ocr.read(image, place, dpi)

    def close(self) -> None:
        if self._document is not None:
            self._document.close()


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
