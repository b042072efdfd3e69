"""Small documents of each supported format, made in the test itself."""

from __future__ import annotations

import io
import zlib


def pdf_bytes(lines: list[str], title: str = "") -> bytes:
    """A one-page PDF with the lines in Helvetica: what a text-layer PDF export looks like."""
    text = " ".join(f"({line}) Tj 0 -16 Td" for line in lines)
    return pdf_with_content(f"BT /F1 12 Tf 72 720 Td {text} ET".encode("latin-1"), title)


def pdf_with_content(content: bytes, title: str = "", compress: bool = False) -> bytes:
    """A one-page PDF whose page draws `content`, Flate-compressed if asked (how a few KB become 60 MB)."""
    stream, flate = (zlib.compress(content, 9), " /Filter /FlateDecode") if compress else (content, "")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        f"<< /Length {len(stream)}{flate} >>\nstream\n".encode() + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        f"<< /Title ({title}) /CreationDate (D:20190314120000) >>".encode("latin-1"),
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n".encode() + body + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info 6 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()


def encrypted_pdf_bytes() -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=612, height=792)
    writer.encrypt(user_password="secret", owner_password="owner")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def docx_bytes(paragraphs: list[str], title: str = "", table: list[list[str]] | None = None,
               after: list[str] = ()) -> bytes:
    """A Word document: the paragraphs, then `table` if given, then the paragraphs `after` it."""
    import docx

    document = docx.Document()
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, value in enumerate(row):
                grid.cell(r, c).text = value
    for paragraph in after:
        document.add_paragraph(paragraph)
    document.core_properties.title = title
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


HTML_PAGE = """<!doctype html><html><head><title>Press freedom in Kazakhstan</title>
<meta name="date" content="2019-03-14"></head><body>
<nav><ul><li><a href="/">Home</a></li><li><a href="/news">All news</a></li><li><a href="/about">About us</a></li></ul></nav>
<article><h1>Press freedom in Kazakhstan</h1>
<p>Kazakhstan is ranked 158th out of 180 countries in the 2018 Reporters Without Borders press freedom index.
Local news outlets face continuous pressure, and journalists receive prison terms for their investigations.</p>
<p>The resolution calls on the authorities to end the politically motivated prosecution of journalists and bloggers,
and to revise the media legislation adopted in December 2017.</p></article>
<footer><p>Subscribe to our updates</p><p>Copyright 2019 Example NGO. All rights reserved.</p></footer>
</body></html>"""


def pptx_bytes(slides: list[tuple[str, str, str]], table: list[list[str]] | None = None) -> bytes:
    """A deck of (title, body, speaker notes) slides, the last with `table` if given."""
    from pptx import Presentation
    from pptx.util import Inches

    deck = Presentation()
    for title, body, notes in slides:
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = title
        slide.placeholders[1].text = body
        if notes:
            slide.notes_slide.notes_text_frame.text = notes
    if table:
        shape = deck.slides[-1].shapes.add_table(len(table), len(table[0]), Inches(1), Inches(4), Inches(6), Inches(2))
        for r, row in enumerate(table):
            for c, value in enumerate(row):
                shape.table.cell(r, c).text = value
    out = io.BytesIO()
    deck.save(out)
    return out.getvalue()


def xlsx_bytes(sheets: dict[str, list[list[object]]], title: str = "") -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    book.properties.title = title
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def odt_bytes(paragraphs: list[str], table: list[list[str]] | None = None, title: str = "") -> bytes:
    from odf import dc, table as odf_table, text
    from odf.opendocument import OpenDocumentText

    document = OpenDocumentText()
    if title:
        document.meta.addElement(dc.Title(text=title))
    document.text.addElement(text.H(outlinelevel=1, text=title or "Report"))
    for paragraph in paragraphs:
        document.text.addElement(text.P(text=paragraph))
    if table:
        grid = odf_table.Table(name="Cases")
        for row in table:
            line = odf_table.TableRow()
            for value in row:
                cell = odf_table.TableCell()
                cell.addElement(text.P(text=value))
                line.addElement(cell)
            grid.addElement(line)
        document.text.addElement(grid)
    out = io.BytesIO()
    document.write(out)
    return out.getvalue()


def epub_bytes(chapters: list[tuple[str, str]], title: str = "Book") -> bytes:
    """An e-book of (chapter title, HTML body) chapters."""
    from ebooklib import epub

    book = epub.EpubBook()
    book.set_identifier("citebot-test")
    book.set_title(title)
    book.set_language("en")
    items = []
    for number, (name, body) in enumerate(chapters, 1):
        item = epub.EpubHtml(title=name, file_name=f"chapter{number}.xhtml", lang="en")
        item.content = f"<html><body><h1>{name}</h1>{body}</body></html>"
        book.add_item(item)
        items.append(item)
    book.toc = items
    book.spine = items
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    out = io.BytesIO()
    epub.write_epub(out, book)
    return out.getvalue()


def rtf_bytes(paragraphs: list[str]) -> bytes:
    body = "".join(r"{\pard " + p + r"\par}" for p in paragraphs)
    return (r"{\rtf1\ansi\deff0{\fonttbl{\f0 Times New Roman;}}" + body + "}").encode("latin-1")


FONTS = ("/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def page_image(lines: list[str], dpi: int = 300, font: str = FONTS[0], angle: float = 0.0, size_pt: int = 12):
    """A scan of a letter-size page with `lines` typed on it: grey paper, a slight tilt if asked."""
    from PIL import Image, ImageDraw, ImageFont

    width, height = int(8.5 * dpi), int(11 * dpi)
    image = Image.new("L", (width, height), 245)
    draw = ImageDraw.Draw(image)
    typeface = ImageFont.truetype(font, int(size_pt * dpi / 72))
    y = dpi
    for line in lines:
        draw.text((dpi, y), line, font=typeface, fill=20)
        y += int(size_pt * 1.6 * dpi / 72)
    if angle:
        image = image.rotate(angle, expand=False, fillcolor=245, resample=Image.Resampling.BICUBIC)
    image.info["dpi"] = (dpi, dpi)
    return image


def image_bytes(image, kind: str = "PNG") -> bytes:
    out = io.BytesIO()
    dpi = image.info.get("dpi", (300, 300))
    image.save(out, format=kind, dpi=dpi)
    return out.getvalue()


def scanned_pdf_bytes(images) -> bytes:
    """A PDF whose pages are pictures only (no text layer), as a scanner writes them."""
    out = io.BytesIO()
    first, *rest = images
    first.save(out, format="PDF", save_all=True, append_images=rest, resolution=first.info.get("dpi", (300,))[0])
    return out.getvalue()


def mixed_pdf_bytes(text_lines: list[str], scanned_lines: list[str]) -> bytes:
    """A text page, then a scanned annex page: a report with a scan attached."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for part in (pdf_bytes(text_lines), scanned_pdf_bytes([page_image(scanned_lines, dpi=200)])):
        writer.append(PdfReader(io.BytesIO(part)))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()

