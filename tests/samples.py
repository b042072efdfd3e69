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


def docx_bytes(paragraphs: list[str], title: str = "") -> bytes:
    import docx

    document = docx.Document()
    for paragraph in paragraphs:
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
