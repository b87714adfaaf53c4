"""Turn an uploaded file into structured text: a :class:`Document`.

Pure Python, no Django: the caller (the ingestion service) passes the bytes, the name the
owner gave the file, the content type the browser claimed, and the plan's limits. Everything
that can go wrong with the *input* ends as an :class:`IngestionError` whose message names the
file (and page) and says what to do, because it is shown to the business owner as is.

The returned text is already normalised (:func:`normalize_text`), so the chunker and the
full-text index see the same characters; normalising again is harmless.
"""

from __future__ import annotations

import codecs
import csv
import datetime
import io
import json
import logging
import posixpath
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import unquote, urlsplit

from assistants.catalog.parsing import looks_like_catalog

from .errors import IngestionError
from .normalize import normalize_inline, normalize_text

logger = logging.getLogger(__name__)

Kind = Literal["pdf", "docx", "html", "markdown", "txt", "csv", "xlsx", "json"]

# Zip-bomb limits for DOCX, checked from the central directory before anything is
# decompressed. A text-heavy 300-page Word file is a few MB uncompressed; images inside a
# DOCX are already compressed (ratio ~1), and XML compresses ~5-20x, so 100:1 overall only
# trips on crafted files.
DOCX_MAX_UNCOMPRESSED_BYTES = 50 * 1024 * 1024
DOCX_MAX_COMPRESSION_RATIO = 100
DOCX_MAX_MEMBERS = 5000

# Text that is mostly control characters or replacement characters is binary, whatever its
# extension says. Real text (even messy exports) stays far below 5%.
_MAX_NON_TEXT_RATIO = 0.05
# cp1252 maps almost every byte to a printable character, so random bytes "decode". Western
# text in cp1252 is still overwhelmingly ASCII; demand that before trusting the guess.
_CP1252_MIN_ASCII_RATIO = 0.7

_NON_TEXT_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\x80-\x9f\ufffd]")


@dataclass
class Section:
    """A run of text under one heading (``None`` before the first heading), or one PDF page."""

    heading: str | None
    text: str
    page: int | None = None


@dataclass
class Document:
    """What the chunker needs from a file.

    ``records`` is for row-shaped data (CSV, XLSX, JSON lists): each entry is one self-contained
    item that must stay one chunk. ``rows`` keeps such data as it was, one dict per row keyed
    by column name (JSON values keep their types), with ``row_numbers`` as the owner sees them
    in the file, for the catalog parser (assistants/catalog/parsing.py). ``warnings`` are
    non-fatal problems worth showing to the owner (e.g. some PDF pages had no text and were
    skipped).
    """

    title: str | None
    sections: list[Section] = field(default_factory=list)
    records: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    rows: list[dict] = field(default_factory=list)
    row_numbers: list[int] = field(default_factory=list)

    @property
    def char_count(self) -> int:
        return sum(len(s.text) + len(s.heading or "") for s in self.sections) + sum(len(r) for r in self.records)


# --------------------------------------------------------------------------- entry point


def extract_file(
    *,
    data: bytes,
    filename: str,
    content_type: str | None,
    max_pages: int,
    max_chars: int,
) -> Document:
    """Extract a :class:`Document` from an uploaded file.

    ``filename`` is only used for the type guess and in messages (a URL works too: its path
    gives the extension). ``max_pages`` applies to PDFs; ``max_chars`` to the extracted,
    normalised text of any type. Raises :class:`IngestionError` for anything the owner has to
    fix (codes: ``empty_file``, ``unsupported_type``, ``binary_content``, ``corrupt_pdf``,
    ``encrypted_pdf``, ``scanned_pdf``, ``too_many_pages``, ``corrupt_docx``, ``zip_bomb``,
    ``invalid_csv``, ``too_much_text``, ``no_text``).
    """
    name = _display_name(filename)
    if not data or not data.strip():
        raise IngestionError("empty_file", f"{name} is empty — choose the file again and re-upload it.")

    kind = detect_kind(data=data, filename=filename, content_type=content_type)
    if kind == "pdf":
        document = _extract_pdf(data, name=name, max_pages=max_pages, max_chars=max_chars)
    elif kind == "docx":
        document = _extract_docx(data, name=name)
    elif kind == "html":
        document = _extract_html(data, name=name, charset=_charset(content_type))
    elif kind == "xlsx":
        document = _extract_xlsx(data, name=name, max_chars=max_chars)
    else:
        text = decode_text(data=data, name=name)
        # Fail before parsing megabytes we are going to refuse anyway. Markup and CSV quoting
        # make the raw size differ from the final text, hence the margin; the exact check is
        # below.
        if len(text) > 2 * max_chars:
            _check_chars(len(text), name=name, max_chars=max_chars, approximate=True)
        if kind == "csv":
            document = _extract_csv(text, name=name)
        elif kind == "json":
            document = _extract_json(text, name=name)
        elif kind == "markdown":
            document = _extract_markdown(text)
        else:
            document = Document(title=None, sections=[Section(heading=None, text=normalize_text(text))])

    document.sections = [s for s in document.sections if s.text]
    document.records = [r for r in document.records if r]
    if not document.sections and not document.records:
        raise IngestionError(
            "no_text",
            f"{name} contains no readable text — check that it is the right file, or paste the text instead.",
        )
    _check_chars(document.char_count, name=name, max_chars=max_chars)
    return document


def detect_kind(*, data: bytes, filename: str, content_type: str | None) -> Kind:
    """Decide the parser: magic bytes first (they cannot lie about a PDF or a zip), then the
    file extension (owners rename files less often than browsers guess content types wrong),
    then the content type, then a last look at the bytes."""
    name = _display_name(filename)
    ext = _extension(filename)
    ctype = (content_type or "").split(";")[0].strip().lower()
    head = data[:2048]

    if b"%PDF-" in head[:1024]:
        return "pdf"
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        if ext == "docx" or "wordprocessingml" in ctype or _zip_has(data, "word/document.xml"):
            return "docx"
        if ext == "xlsx" or "spreadsheetml" in ctype or _zip_has(data, "xl/workbook.xml"):
            return "xlsx"
        raise IngestionError(
            "unsupported_type",
            f"{name} is a zip archive (or a presentation), which we cannot read — "
            "upload a PDF, Word (.docx), Excel (.xlsx), HTML, Markdown, text, CSV or JSON file.",
        )
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        raise IngestionError(
            "unsupported_type",
            f"{name} is an old-style Office file (.doc/.xls) — open it and save it as .docx or PDF, then upload that.",
        )
    for magic, what in _BINARY_MAGIC:
        if head.startswith(magic):
            raise IngestionError(
                "unsupported_type",
                f"{name} is {what}, which has no text we can read — upload a PDF with selectable "
                "text, a document, or paste the text instead.",
            )

    by_ext = _EXTENSIONS.get(ext)
    if by_ext:
        return by_ext
    by_type = _CONTENT_TYPES.get(ctype)
    if by_type:
        return by_type
    sniff = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if sniff.startswith((b"<!doctype html", b"<html")) or b"<html" in sniff[:512]:
        return "html"
    # No usable extension and a vague content type: accept it as plain text if it decodes as
    # text (decode_text raises binary_content otherwise).
    if (ext == "" and ctype in ("", "application/octet-stream")) or ctype.startswith("text/"):
        return "txt"
    raise IngestionError(
        "unsupported_type",
        f"{name}: this type of file is not supported — upload a PDF, Word (.docx), HTML, Markdown, text or CSV file.",
    )


def decode_text(*, data: bytes, name: str) -> str:
    """Decode bytes that should be text: UTF-8 (BOM optional), UTF-16/32 with a BOM, then
    cp1252 only if the result still looks like text. Binary data raises ``binary_content``."""
    binary = IngestionError(
        "binary_content",
        f"{name} does not contain readable text (it looks like a binary file) — check that "
        "you picked the right file, or save it as plain text (UTF-8) and upload it again.",
    )
    # UTF-32 first: its little-endian BOM starts with the UTF-16 one.
    for bom, codec in (
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if data.startswith(bom):
            try:
                text = data.decode(codec)
            except UnicodeDecodeError:
                raise binary from None
            if not _looks_like_text(text):
                raise binary
            return text

    # A NUL byte never occurs in UTF-8 or cp1252 text; it is the cheapest binary tell.
    if b"\x00" in data:
        raise binary
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        if not _looks_like_text(text):
            raise binary
        return text
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        raise binary from None
    ascii_ratio = sum(1 for b in data[:65536] if b < 0x80) / min(len(data), 65536)
    if ascii_ratio < _CP1252_MIN_ASCII_RATIO or not _looks_like_text(text):
        raise binary
    return text


# --------------------------------------------------------------------------- PDF


def _extract_pdf(data: bytes, *, name: str, max_pages: int, max_chars: int) -> Document:
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError, LimitReachedError

    corrupt = IngestionError(
        "corrupt_pdf",
        f"{name} is damaged or is not a real PDF — open it on your computer, save or export "
        "it again as PDF, and upload the new file.",
    )
    # pypdf raises a zoo of exception types on malformed input (PdfReadError, ValueError,
    # KeyError, struct errors...). The file is untrusted, so any failure to parse is "corrupt".
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            # Many PDFs are "encrypted" with an empty password only to restrict printing.
            try:
                if not reader.decrypt(""):
                    raise FileNotDecryptedError("password required")
            except (FileNotDecryptedError, DependencyError, NotImplementedError) as exc:
                raise IngestionError(
                    "encrypted_pdf",
                    f"{name} is password-protected — remove the password (print or export it "
                    "to a new PDF) and upload it again.",
                ) from exc
        page_count = len(reader.pages)
    except IngestionError:
        raise
    except Exception as exc:  # see comment above
        raise corrupt from exc

    if page_count == 0:
        raise corrupt
    if page_count > max_pages:
        raise IngestionError(
            "too_many_pages",
            f"{name} has {page_count} pages; the limit is {max_pages} pages — split it into "
            "smaller files and upload them separately.",
        )

    sections: list[Section] = []
    empty_pages: list[int] = []
    total = 0
    for number in range(1, page_count + 1):
        try:
            page = reader.pages[number - 1]
            # pypdf stops unpacking a stream past its limit (75 MB) and extract_text then returns
            # nothing, which would read as a scanned page. Unpacking the contents first (pypdf keeps
            # the result for extract_text) tells a decompression bomb apart.
            contents = page.get_contents()
            if contents is not None:
                contents.get_data()
            raw = page.extract_text() or ""
        except LimitReachedError as exc:
            raise IngestionError(
                "pdf_expands_too_much",
                f"Page {number} of {name} unpacks to far more data than any document page holds (over "
                "75 MB), so it was not read: the file may be built to overload readers. Print or export "
                "it again as a normal PDF and upload the new file.",
            ) from exc
        except Exception:  # a broken page should not lose the others
            logger.info("pdf page %s of %s could not be read", number, name, exc_info=True)
            raw = ""
        text = normalize_text(raw)
        if not text:
            empty_pages.append(number)
            continue
        total += len(text)
        # Stop early: a 100-page PDF over the limit need not be read to the end.
        _check_chars(total, name=name, max_chars=max_chars)
        sections.append(Section(heading=None, text=text, page=number))

    warnings: list[str] = []
    if empty_pages and not sections:
        pages = "its page has" if page_count == 1 else "none of its pages have"
        raise IngestionError(
            "scanned_pdf",
            f"{name} looks like a scanned image: {pages} selectable text — upload a PDF with "
            "selectable text or paste the text instead.",
        )
    if empty_pages:
        one = len(empty_pages) == 1
        warnings.append(
            f"{_pages_phrase(empty_pages)} of {name} {'is a scanned image' if one else 'are scanned images'} "
            f"with no text and {'was' if one else 'were'} skipped — upload a PDF with selectable text "
            "or paste that text separately."
        )

    title = None
    try:
        meta = reader.metadata
        if meta and meta.title:
            title = normalize_inline(str(meta.title)) or None
    except Exception:  # metadata is a nicety; broken metadata is common
        title = None
    return Document(title=title, sections=sections, warnings=warnings)


def _pages_phrase(pages: list[int]) -> str:
    """[3] -> "page 3"; [2, 3, 4, 7] -> "pages 2-4, 7"."""
    if len(pages) == 1:
        return f"page {pages[0]}"
    ranges: list[str] = []
    start = prev = pages[0]
    for p in [*pages[1:], None]:
        if p is not None and p == prev + 1:
            prev = p
            continue
        ranges.append(str(start) if start == prev else f"{start}-{prev}")
        if p is not None:
            start = prev = p
    return "pages " + ", ".join(ranges)


# --------------------------------------------------------------------------- DOCX


def _extract_docx(data: bytes, *, name: str) -> Document:
    corrupt = IngestionError(
        "corrupt_docx",
        f"{name} is damaged or is not a real Word document — open it in Word (or LibreOffice), "
        "save it again as .docx, and upload the new file.",
    )
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError) as exc:
        raise corrupt from exc

    # Decide from the central directory only, before decompressing a byte. Python's zipfile
    # stops decompressing a member at its declared file_size (and then fails the CRC), so a
    # lying central directory cannot make extraction produce more than these totals.
    uncompressed = sum(i.file_size for i in infos)
    compressed = sum(i.compress_size for i in infos)
    if (
        len(infos) > DOCX_MAX_MEMBERS
        or uncompressed > DOCX_MAX_UNCOMPRESSED_BYTES
        or uncompressed > DOCX_MAX_COMPRESSION_RATIO * max(compressed, 1)
    ):
        raise IngestionError(
            "zip_bomb",
            f"{name} expands to far more data than a normal Word document "
            f"({uncompressed // (1024 * 1024)} MB); we refuse it for safety — save the document "
            "again from Word, or upload it as PDF.",
        )
    if "word/document.xml" not in {i.filename for i in infos}:
        raise corrupt

    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        doc = docx.Document(io.BytesIO(data))
    except Exception as exc:  # untrusted XML/zip: any failure means "damaged"
        raise corrupt from exc

    sections: list[Section] = []
    heading: str | None = None
    paragraphs: list[str] = []
    title: str | None = None

    def flush() -> None:
        text = normalize_text("\n\n".join(paragraphs))
        if text:
            sections.append(Section(heading=heading, text=text))
        paragraphs.clear()

    try:
        for block in doc.iter_inner_content():
            if isinstance(block, Paragraph):
                text = block.text
                style = (block.style.name if block.style is not None else "") or ""
                if _is_docx_heading(style) and text.strip():
                    flush()
                    heading = normalize_inline(text)
                    if style.lower() == "title" and title is None:
                        title = heading
                elif text.strip():
                    paragraphs.append(text)
            elif isinstance(block, Table):
                rendered = _render_table([[cell.text for cell in row.cells] for row in block.rows])
                if rendered:
                    paragraphs.append(rendered)
        flush()
        core_title = doc.core_properties.title
    except Exception as exc:  # malformed parts surface lazily while iterating
        raise corrupt from exc
    if core_title and core_title.strip():
        title = normalize_inline(core_title)
    return Document(title=title, sections=sections)


def _is_docx_heading(style_name: str) -> bool:
    # Built-in style names are stored in English whatever the UI language ("heading 1"), and
    # python-docx reports them as "Heading 1".
    lowered = style_name.lower()
    return lowered == "title" or lowered.startswith("heading")


def _render_table(rows: list[list[str]]) -> str:
    """Render a table one row per line; with a header row, label every value with its column
    name so a row of a menu table ("Mapo tofu | 12.50") stays meaningful on its own."""
    rows = [[normalize_inline(c) for c in row] for row in rows]
    rows = [row for row in rows if any(row)]
    if not rows:
        return ""
    # Merged cells repeat in python-docx; collapse adjacent duplicates.
    rows = [[c for i, c in enumerate(row) if i == 0 or c != row[i - 1]] for row in rows]
    if len(rows) >= 2 and len(rows[0]) >= 2:
        header = rows[0]
        return "\n".join(_render_record(header, row) for row in rows[1:])
    return "\n".join(" | ".join(c for c in row if c) for row in rows)


# --------------------------------------------------------------------------- HTML

_DROP_TAGS = (
    "script", "style", "noscript", "template", "nav", "aside", "form", "iframe", "svg",
    "button", "select", "textarea", "input", "dialog", "object", "embed", "canvas",
)  # fmt: skip
_DROP_ROLES = {"navigation", "banner", "contentinfo", "complementary", "search", "dialog"}
_HEADING_TAGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
_BLOCK_TAGS = {
    "p", "div", "section", "article", "main", "li", "ul", "ol", "dl", "dt", "dd", "tr",
    "table", "thead", "tbody", "tfoot", "blockquote", "pre", "figure", "figcaption",
    "address", "details", "summary", "body", "header", "footer", "caption", "hr",
}  # fmt: skip


def _extract_html(data: bytes, *, name: str, charset: str | None) -> Document:
    from bs4 import BeautifulSoup, Comment, Declaration, Doctype, NavigableString, ProcessingInstruction, Tag

    # HTML declares its own charset (<meta charset>), which BeautifulSoup honours, so we do
    # not force our text decoder on it — but binary junk with an .html name is still refused.
    binary = IngestionError(
        "binary_content",
        f"{name} does not contain readable text (it looks like a binary file) — check that "
        "you picked the right file, or save the page again as HTML.",
    )
    if b"\x00" in data[:65536] and not data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise binary
    try:
        soup = BeautifulSoup(data, "lxml", from_encoding=charset)
    except Exception as exc:  # lxml/bs4 failures on garbage input
        raise IngestionError(
            "corrupt_html", f"{name} could not be read as a web page — save it again as HTML or paste the text instead."
        ) from exc

    title = None
    if soup.title and soup.title.string:
        title = normalize_inline(soup.title.string) or None

    for tag in soup.find_all(_DROP_TAGS):
        tag.decompose()
    for tag in soup.find_all(True):
        if tag.decomposed:
            continue
        role = (tag.get("role") or "").lower() if isinstance(tag.get("role"), str) else ""
        hidden = tag.has_attr("hidden") or str(tag.get("aria-hidden", "")).lower() == "true"
        # Site chrome: <header>/<footer> of the page. A <header> inside an <article> is that
        # article's own header (its title, date) and is content, so it stays.
        chrome = tag.name in ("header", "footer") and tag.find_parent("article") is None
        if role in _DROP_ROLES or hidden or chrome:
            tag.decompose()

    root = soup.find("main") or soup.find(attrs={"role": "main"})
    if root is None:
        articles = soup.find_all("article")
        root = articles[0] if len(articles) == 1 else (soup.body or soup)

    sections: list[Section] = []
    heading: str | None = None
    paragraphs: list[str] = []
    line: list[str] = []
    current_block: object = None

    def end_paragraph() -> None:
        text = "".join(line).strip()
        if text:
            paragraphs.append(text)
        line.clear()

    def flush_section() -> None:
        end_paragraph()
        text = normalize_text("\n\n".join(paragraphs))
        if text:
            sections.append(Section(heading=heading, text=text))
        paragraphs.clear()

    skip_types = (Comment, Declaration, Doctype, ProcessingInstruction)
    # Iterative walk in document order (deeply nested HTML must not hit the recursion limit).
    for node in root.descendants:
        if isinstance(node, Tag):
            if node.name in _HEADING_TAGS:
                flush_section()
                heading = normalize_inline(node.get_text(" ")) or None
                current_block = None
            elif node.name == "br":
                line.append("\n")
            elif node.name in ("td", "th") and line and node.find_parent("tr") is current_block:
                line.append(" | ")
            continue
        if not isinstance(node, NavigableString) or isinstance(node, skip_types):
            continue
        block, in_heading, in_pre = _html_context(node, root)
        if in_heading:
            continue  # already taken as the section heading
        if block is not current_block:
            end_paragraph()
            current_block = block
        text = str(node)
        line.append(text if in_pre else re.sub(r"\s+", " ", text))
    flush_section()
    if not _looks_like_text("".join(s.text for s in sections)):
        raise binary
    return Document(title=title, sections=sections)


def _html_context(node: object, root: object) -> tuple[object, bool, bool]:
    """Nearest block ancestor (text in the same block joins one paragraph), whether the text
    sits in a heading, and whether whitespace is significant (<pre>)."""
    block = None
    in_pre = False
    parent = getattr(node, "parent", None)
    while parent is not None:
        name = parent.name
        if name in _HEADING_TAGS:
            return parent, True, False
        if name == "pre":
            in_pre = True
        if block is None and name in _BLOCK_TAGS:
            block = parent
        if parent is root:
            break
        parent = parent.parent
    return block if block is not None else root, False, in_pre


# --------------------------------------------------------------------------- Markdown

_ATX_RE = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
_SETEXT_RE = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FENCE_RE = re.compile(r"^ {0,3}(```|~~~)")
_MD_IMAGE_RE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_MD_LINK_RE = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_MD_EMPHASIS_RE = re.compile(r"(\*\*|__|~~|`)")
_MD_TABLE_RULE_RE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")


def _extract_markdown(text: str) -> Document:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    title: str | None = None
    lines = text.split("\n")
    # YAML front matter: take its title, drop the rest (it is metadata, not content).
    if lines and lines[0].strip() == "---":
        for end in range(1, min(len(lines), 200)):
            if lines[end].strip() in ("---", "..."):
                for meta in lines[1:end]:
                    if meta.lower().startswith("title:"):
                        title = normalize_inline(meta.split(":", 1)[1].strip().strip("\"'")) or None
                lines = lines[end + 1 :]
                break

    sections: list[Section] = []
    heading: str | None = None
    body: list[str] = []
    in_fence = False

    def flush() -> None:
        content = normalize_text(_strip_markdown("\n".join(body)))
        if content:
            sections.append(Section(heading=heading, text=content))
        body.clear()

    for raw in lines:
        if _FENCE_RE.match(raw):
            in_fence = not in_fence
            continue  # the fence markers themselves are not content
        if in_fence:
            body.append(raw)
            continue
        atx = _ATX_RE.match(raw)
        if atx:
            flush()
            heading = normalize_inline(_strip_markdown(atx.group(2))) or None
            if title is None and len(atx.group(1)) == 1:
                title = heading
            continue
        # "Heading\n=====" (setext): only when the previous line is a one-line paragraph, so a
        # "---" horizontal rule after a blank line stays a rule.
        if _SETEXT_RE.match(raw) and body and body[-1].strip() and (len(body) == 1 or not body[-2].strip()):
            previous = body.pop()
            flush()
            heading = normalize_inline(_strip_markdown(previous)) or None
            if title is None and raw.strip().startswith("="):
                title = heading
            continue
        if _MD_TABLE_RULE_RE.match(raw) and "-" in raw:
            continue
        body.append(raw)
    flush()
    return Document(title=title, sections=sections)


def _strip_markdown(text: str) -> str:
    text = _MD_IMAGE_RE.sub(r"\1", text)
    text = _MD_LINK_RE.sub(r"\1", text)
    return _MD_EMPHASIS_RE.sub("", text)


# --------------------------------------------------------------------------- CSV


def read_csv_rows(text: str, *, name: str) -> list[list[str]]:
    """The non-blank rows of a CSV text, the delimiter guessed (Excel exports use ; or tab too)."""
    invalid = IngestionError(
        "invalid_csv",
        f"{name} could not be read as a spreadsheet (CSV) — export it again from your "
        "spreadsheet as CSV (UTF-8), with column names in the first row.",
    )
    text = text.lstrip("\ufeff")
    sample = text[:65536]
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        # The sniffer gives up on one-column files and on irregular quoting; pick the
        # delimiter that is most common in the header line, which is right for Excel exports.
        first = sample.split("\n", 1)[0]
        delimiter = max(",;\t|", key=first.count) if any(d in first for d in ",;\t|") else ","
        dialect = type("Guessed", (csv.excel,), {"delimiter": delimiter})
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), dialect))
    except csv.Error as exc:
        raise invalid from exc
    return rows


def _extract_csv(text: str, *, name: str) -> Document:
    return _table_document(read_csv_rows(text, name=name))


def _table_document(rows: list[list[str]]) -> Document:
    """A table whose first non-blank row names the columns: one record per row."""
    numbered = [(number, [normalize_inline(str(c)) for c in row]) for number, row in enumerate(rows, start=1)]
    numbered = [(number, row) for number, row in numbered if any(row)]
    if not numbered:
        return Document(title=None)
    # Catalog and menu exports always carry column names in the first row; csv.Sniffer's
    # has_header() is a coin toss on short files, so we do not ask it.
    header = [h or f"column {i + 1}" for i, h in enumerate(numbered[0][1])]
    if len(numbered) == 1:
        # Only a header row (or a one-line file): keep it as one record rather than nothing.
        return Document(title=None, records=["; ".join(header)])
    body = numbered[1:]
    records = [_render_record(header, row) for _, row in body]
    dicts = [{header[i] if i < len(header) else f"column {i + 1}": cell for i, cell in enumerate(row)}
             for _, row in body]
    return Document(title=None, records=records, rows=dicts, row_numbers=[number for number, _ in body])


# --------------------------------------------------------------------------- XLSX and JSON


def _extract_xlsx(data: bytes, *, name: str, max_chars: int) -> Document:
    """The first sheet with content (the catalog parser looks at every sheet's header through
    ``sheets``: a workbook's menu is often not its first sheet), read with openpyxl in read-only
    mode, cell values not formulas."""
    corrupt = IngestionError(
        "corrupt_xlsx",
        f"{name} is damaged or is not a real Excel workbook — open it in Excel (or LibreOffice), "
        "save it again as .xlsx, or export the sheet as CSV, and upload that.",
    )
    try:
        infos = zipfile.ZipFile(io.BytesIO(data)).infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError) as exc:
        raise corrupt from exc
    uncompressed = sum(i.file_size for i in infos)
    if (len(infos) > DOCX_MAX_MEMBERS or uncompressed > DOCX_MAX_UNCOMPRESSED_BYTES
            or uncompressed > DOCX_MAX_COMPRESSION_RATIO * max(sum(i.compress_size for i in infos), 1)):
        raise IngestionError(
            "zip_bomb",
            f"{name} expands to far more data than a normal workbook ({uncompressed // (1024 * 1024)} MB); we "
            "refuse it for safety — export the sheet you need as CSV and upload that.",
        )
    import openpyxl  # only workbooks need it

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a broken workbook
        raise corrupt from exc
    sheets: list[list[list[str]]] = []
    chars = 0
    try:
        for sheet in workbook.worksheets:
            rows = []
            for row in sheet.iter_rows(values_only=True):
                cells = [_cell_text(value) for value in row]
                chars += sum(len(c) for c in cells)
                if chars > 2 * max_chars:
                    _check_chars(chars, name=name, max_chars=max_chars, approximate=True)
                rows.append(cells)
            if any(any(c for c in r) for r in rows):
                sheets.append(rows)
    except IngestionError:
        raise
    except Exception as exc:
        raise corrupt from exc
    finally:
        workbook.close()
    if not sheets:
        return Document(title=None)
    chosen = next((rows for rows in sheets if looks_like_catalog(_first_row(rows))), sheets[0])
    return _table_document(chosen)


def _first_row(rows: list[list[str]]) -> list[str]:
    return next((row for row in rows if any(row)), [])


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".") if value != int(value) else str(int(value))
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    return str(value)


_JSON_LIST_KEYS = ("items", "menu", "products", "dishes", "catalog", "catalogue", "data", "results")


def _extract_json(text: str, *, name: str) -> Document:
    """A list of objects (or {"items": [...]}, {"menu": [...]}, ...) becomes rows and records, like a
    spreadsheet; any other JSON becomes text, one "key: value" line per leaf."""
    try:
        value = json.loads(text.lstrip("\ufeff"))
    except (json.JSONDecodeError, RecursionError) as exc:
        raise IngestionError(
            "invalid_json",
            f"{name} is not valid JSON ({exc.__class__.__name__}: {str(exc)[:80]}) — check the file, or export it "
            "again.",
        ) from exc
    objects = None
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        objects = value
    elif isinstance(value, dict):
        for key in _JSON_LIST_KEYS:
            candidate = value.get(key)
            if isinstance(candidate, list) and candidate and all(isinstance(v, dict) for v in candidate):
                objects = candidate
                break
    if objects is None:
        lines = [f"{path}: {leaf}" for path, leaf in _json_leaves(value) if str(leaf).strip()]
        return Document(title=None, sections=[Section(heading=None, text=normalize_text("\n".join(lines)))])
    records = []
    for obj in objects:
        records.append("; ".join(f"{k}: {_json_inline(v)}" for k, v in obj.items() if _json_inline(v)))
    return Document(title=None, records=records, rows=[dict(o) for o in objects],
                    row_numbers=list(range(1, len(objects) + 1)))


def _json_inline(value) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(_json_inline(v) for v in value if _json_inline(v))
    if isinstance(value, dict):
        return ", ".join(f"{k} {_json_inline(v)}" for k, v in value.items())
    return normalize_inline(str(value))


def _json_leaves(value, path: str = "") -> Iterator[tuple[str, object]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _json_leaves(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for item in value:
            yield from _json_leaves(item, path)
    else:
        yield path or "value", value


def _render_record(header: list[str], row: list[str]) -> str:
    parts = []
    for i, value in enumerate(row):
        if not value:
            continue
        key = header[i] if i < len(header) else f"column {i + 1}"
        parts.append(f"{key}: {value}")
    return "; ".join(parts)


# --------------------------------------------------------------------------- helpers

_EXTENSIONS: dict[str, Kind] = {
    "pdf": "pdf",
    "docx": "docx",
    "html": "html",
    "htm": "html",
    "xhtml": "html",
    "md": "markdown",
    "markdown": "markdown",
    "txt": "txt",
    "text": "txt",
    "csv": "csv",
    "xlsx": "xlsx",
    "json": "json",
}
_CONTENT_TYPES: dict[str, Kind] = {
    "application/pdf": "pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "text/html": "html",
    "application/xhtml+xml": "html",
    "text/markdown": "markdown",
    "text/x-markdown": "markdown",
    "text/plain": "txt",
    "text/csv": "csv",
    "application/csv": "csv",
    "application/json": "json",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
}
_BINARY_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "an image (PNG)"),
    (b"\xff\xd8\xff", "an image (JPEG)"),
    (b"GIF87a", "an image (GIF)"),
    (b"GIF89a", "an image (GIF)"),
    (b"RIFF", "an image or media file"),
    (b"II*\x00", "an image (TIFF)"),
    (b"MM\x00*", "an image (TIFF)"),
    (b"\x1f\x8b", "a compressed (gzip) file"),
    (b"7z\xbc\xaf\x27\x1c", "a compressed (7z) file"),
    (b"Rar!", "a compressed (RAR) file"),
    (b"\x7fELF", "a program"),
    (b"MZ", "a program"),
)


def _display_name(filename: str) -> str:
    if "://" in filename:
        return filename
    return posixpath.basename(filename.replace("\\", "/")) or "the file"


def _extension(filename: str) -> str:
    path = unquote(urlsplit(filename).path) if "://" in filename else filename
    base = posixpath.basename(path.replace("\\", "/"))
    return base.rsplit(".", 1)[1].lower() if "." in base else ""


def _charset(content_type: str | None) -> str | None:
    match = re.search(r"charset=[\"']?([\w.:-]+)", content_type or "", re.IGNORECASE)
    if not match:
        return None
    try:
        return codecs.lookup(match.group(1)).name
    except LookupError:
        return None


def _zip_has(data: bytes, member: str) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return member in archive.namelist()
    except (zipfile.BadZipFile, ValueError, OSError):
        return False


def _looks_like_text(text: str) -> bool:
    if not text:
        return True
    sample = text[:200_000]
    return len(_NON_TEXT_RE.findall(sample)) / len(sample) <= _MAX_NON_TEXT_RATIO


def _check_chars(count: int, *, name: str, max_chars: int, approximate: bool = False) -> None:
    if count > max_chars:
        about = "about " if approximate else ""
        raise IngestionError(
            "too_much_text",
            f"{name} has {about}{count:,} characters of text; the limit is {max_chars:,} — "
            "split it into smaller files or remove parts the assistant does not need.",
        )
