from __future__ import annotations

import codecs
import io
import zipfile

import pytest

from assistants.ingestion.errors import IngestionError
from assistants.ingestion.extract import Document, detect_kind, extract_file

from .helpers import make_docx, make_pdf, make_pdf_bomb, make_zip_bomb_docx


def extract(data: bytes, filename: str, *, content_type: str | None = None, max_pages: int = 50,
            max_chars: int = 200_000) -> Document:  # fmt: skip
    return extract_file(
        data=data, filename=filename, content_type=content_type, max_pages=max_pages, max_chars=max_chars
    )


def error_of(data: bytes, filename: str, **kwargs: object) -> IngestionError:
    with pytest.raises(IngestionError) as info:
        extract(data, filename, **kwargs)  # type: ignore[arg-type]
    assert info.value.message and not info.value.transient
    return info.value


# --------------------------------------------------------------------------- PDF


def test_pdf_text_is_extracted_per_page_with_hyphenation_fixed() -> None:
    data = make_pdf(["Welcome to Golden Dragon. Please make a reser-\nvation.", "Opening hours: 11-22."], title="Menu")
    document = extract(data, "menu.pdf")
    assert document.title == "Menu"
    assert [(s.page, s.heading) for s in document.sections] == [(1, None), (2, None)]
    assert "Please make a reservation." in document.sections[0].text
    assert "Opening hours" in document.sections[1].text
    assert document.warnings == []


def test_pdf_with_some_scanned_pages_keeps_the_text_pages_and_names_the_others() -> None:
    data = make_pdf(["Starters: spring rolls", None, "Desserts: mango pudding", None])
    document = extract(data, "menu.pdf")
    assert [s.page for s in document.sections] == [1, 3]
    assert len(document.warnings) == 1
    assert "pages 2, 4 of menu.pdf" in document.warnings[0]


def test_pdf_with_only_scanned_pages_fails_clearly() -> None:
    error = error_of(make_pdf([None, None]), "scan.pdf")
    assert error.code == "scanned_pdf"
    assert "scan.pdf" in error.message and "selectable text" in error.message


def test_single_scanned_page_message() -> None:
    error = error_of(make_pdf([None]), "flyer.pdf")
    assert error.code == "scanned_pdf"
    assert "its page has" in error.message


def test_decompression_bomb_pdf_has_its_own_error() -> None:
    error = error_of(make_pdf_bomb(), "menu.pdf")
    assert error.code == "pdf_expands_too_much"
    assert "Page 1 of menu.pdf" in error.message and "scanned" not in error.message


@pytest.mark.parametrize(
    "data",
    [b"%PDF-1.7\nthis is not really a pdf\n", b"%PDF-1.4\n" + bytes(range(256)) * 20],
    ids=["garbage-after-header", "binary-after-header"],
)
def test_corrupt_pdf_is_reported(data: bytes) -> None:
    assert error_of(data, "menu.pdf").code == "corrupt_pdf"


def test_truncated_pdf_is_reported_as_corrupt() -> None:
    data = make_pdf(["Some text " * 50] * 3)
    assert error_of(data[: len(data) // 3], "menu.pdf").code == "corrupt_pdf"


def test_pdf_over_page_limit_names_the_limit() -> None:
    error = error_of(make_pdf(["page"] * 6), "big.pdf", max_pages=5)
    assert error.code == "too_many_pages"
    assert "6 pages" in error.message and "limit is 5 pages" in error.message


def test_password_protected_pdf_is_reported() -> None:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_encryption(owner_password="owner", user_password="secret")
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.cell(0, 10, "Secret menu")
    assert error_of(bytes(pdf.output()), "secret.pdf").code == "encrypted_pdf"


def test_pdf_magic_wins_over_a_wrong_extension() -> None:
    document = extract(make_pdf(["Menu in disguise"]), "menu.txt", content_type="text/plain")
    assert document.sections[0].page == 1
    assert "Menu in disguise" in document.sections[0].text


def test_text_over_max_chars_is_refused_with_the_limit() -> None:
    data = make_pdf(["x " * 1500, "y " * 1500])
    error = error_of(data, "long.pdf", max_chars=2000)
    assert error.code == "too_much_text"
    assert "2,000" in error.message


# --------------------------------------------------------------------------- DOCX


def test_docx_headings_become_sections_and_tables_keep_column_names() -> None:
    data = make_docx(
        [
            ("title", "Golden Dragon"),
            ("p", "Family restaurant since 1988."),
            ("heading1", "Allergens"),
            ("p", "All dishes may contain soy."),
            ("heading2", "Menu"),
            ("table", [["Dish", "Price"], ["Mapo tofu", "12.50"], ["Fried rice", "9.00"]]),
        ]
    )
    document = extract(data, "info.docx")
    assert document.title == "Golden Dragon"
    headings = [s.heading for s in document.sections]
    assert headings == ["Golden Dragon", "Allergens", "Menu"]
    assert document.sections[1].text == "All dishes may contain soy."
    assert "Dish: Mapo tofu; Price: 12.50" in document.sections[2].text
    assert "Dish: Fried rice; Price: 9.00" in document.sections[2].text


def test_docx_core_title_is_used() -> None:
    document = extract(make_docx([("p", "Hello")], title="Opening hours"), "hours.docx")
    assert document.title == "Opening hours"
    assert document.sections[0].heading is None


def test_zip_bomb_docx_is_refused_before_extraction() -> None:
    error = error_of(make_zip_bomb_docx(uncompressed_mb=60), "bomb.docx")
    assert error.code == "zip_bomb"


def test_small_but_extremely_compressed_docx_is_refused() -> None:
    # 10 MB is under the size cap; the ~1000:1 ratio is what gives it away.
    assert error_of(make_zip_bomb_docx(uncompressed_mb=10), "bomb.docx").code == "zip_bomb"


@pytest.mark.parametrize(
    "data",
    [b"PK\x03\x04" + b"\x00garbage" * 100, b"this is not a zip file at all"],
    ids=["zip-magic-garbage", "plain-bytes"],
)
def test_docx_that_is_not_a_valid_zip_is_reported(data: bytes) -> None:
    assert error_of(data, "letter.docx").code == "corrupt_docx"


def test_zip_without_word_document_is_not_a_docx() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
    assert error_of(buffer.getvalue(), "prices.xlsx").code == "corrupt_xlsx"  # a workbook, but a broken one
    assert error_of(buffer.getvalue(), "prices.docx").code == "corrupt_docx"
    other = io.BytesIO()
    with zipfile.ZipFile(other, "w") as archive:
        archive.writestr("ppt/presentation.xml", "<presentation/>")
    assert error_of(other.getvalue(), "slides.zip").code == "unsupported_type"


# --------------------------------------------------------------------------- HTML

PAGE = """<!doctype html>
<html><head><title>Golden Dragon</title><style>body{color:red}</style>
<script>var tracking = "SCRIPT-TEXT";</script></head>
<body>
<header><a href="/">Logo</a> SITE-HEADER</header>
<nav><a href="/menu">NAV-LINK</a></nav>
<main>
  <h1>Our menu</h1>
  <p>Fresh <b>Sichuan</b> food,<br>cooked to order.</p>
  <h2>Allergens</h2>
  <p>Ask us about peanuts.</p>
  <table><tr><th>Dish</th><th>Price</th></tr><tr><td>Mapo tofu</td><td>12.50</td></tr></table>
  <form><input name="q"> FORM-TEXT</form>
  <div hidden>HIDDEN-TEXT</div>
</main>
<aside>ASIDE-TEXT</aside>
<footer>FOOTER-TEXT</footer>
</body></html>"""


def test_html_keeps_main_text_with_headings_and_drops_chrome() -> None:
    document = extract(PAGE.encode(), "index.html")
    assert document.title == "Golden Dragon"
    assert [s.heading for s in document.sections] == ["Our menu", "Allergens"]
    all_text = " ".join(s.text for s in document.sections)
    for junk in ("SCRIPT-TEXT", "SITE-HEADER", "NAV-LINK", "FORM-TEXT", "HIDDEN-TEXT", "ASIDE-TEXT", "FOOTER-TEXT",
                 "color:red"):  # fmt: skip
        assert junk not in all_text
    assert document.sections[0].text == "Fresh Sichuan food,\ncooked to order."
    assert "Ask us about peanuts." in document.sections[1].text
    assert "Mapo tofu | 12.50" in document.sections[1].text


def test_html_without_main_drops_chrome_inside_body_but_keeps_article_header() -> None:
    page = b"""<html><body>
    <script>SCRIPT-TEXT</script><nav>NAV-TEXT</nav><header>SITE-HEADER</header>
    <div role="navigation">ROLE-NAV</div><div aria-hidden="true">ARIA-HIDDEN</div>
    <article><header><h1>Spring menu</h1></header><p>Asparagus is back.</p></article>
    <article><header><h1>Summer menu</h1></header><p>Cold noodles.</p></article>
    <aside>ASIDE-TEXT</aside><footer>FOOTER-TEXT</footer><style>.x{}</style>
    </body></html>"""
    document = extract(page, "seasons.html")
    assert [(s.heading, s.text) for s in document.sections] == [
        ("Spring menu", "Asparagus is back."),
        ("Summer menu", "Cold noodles."),
    ]


def test_html_without_main_uses_body_and_honours_declared_charset() -> None:
    body = (
        "<html><head><meta charset='windows-1252'></head>"
        "<body><h3>Caf\xe9</h3><p>Cr\xe8me br\xfbl\xe9e</p></body></html>"
    )
    document = extract(body.encode("cp1252"), "page.htm")
    assert document.sections[0].heading == "Café"
    assert document.sections[0].text == "Crème brûlée"


def test_html_detected_by_content_sniffing_without_extension() -> None:
    assert (
        detect_kind(data=b"<!DOCTYPE html><html><body>x</body></html>", filename="upload", content_type=None) == "html"
    )


# --------------------------------------------------------------------------- Markdown / TXT


def test_markdown_headings_become_sections_but_not_inside_code_fences() -> None:
    text = """---
title: House rules
---
Intro line with a [link](https://example.com) and **bold**.

# Booking
Book by phone.

```
# not a heading
```

Payment
-------
Cash or card.
"""
    document = extract(text.encode(), "rules.md")
    assert document.title == "House rules"
    assert [s.heading for s in document.sections] == [None, "Booking", "Payment"]
    assert document.sections[0].text == "Intro line with a link and bold."
    assert "# not a heading" in document.sections[1].text
    assert document.sections[2].text == "Cash or card."


def test_txt_utf8_with_bom_utf16_and_cp1252_all_decode() -> None:
    text = "Café crème — 3,50 €\nOpen daily."
    for data in (
        codecs.BOM_UTF8 + text.encode("utf-8"),
        text.encode("utf-16"),  # carries a BOM
        text.encode("cp1252"),
    ):
        document = extract(data, "notes.txt")
        assert document.sections[0].text == text


@pytest.mark.parametrize(
    ("data", "filename"),
    [
        (b"hello\x00\x00\x00world" * 50, "notes.txt"),
        (bytes(range(1, 256)) * 40, "notes.md"),
        (bytes([0x81, 0x8D, 0x8F, 0x90, 0x9D]) * 100, "prices.csv"),
        (b"\x01\x02\x03\x04\x05\x06abc" * 100, "notes.txt"),
    ],
    ids=["nul-bytes", "random-high-bytes", "undecodable", "control-chars"],
)
def test_binary_garbage_with_a_text_extension_is_refused(data: bytes, filename: str) -> None:
    error = error_of(data, filename)
    assert error.code == "binary_content"
    assert filename in error.message


# --------------------------------------------------------------------------- CSV


def test_csv_rows_become_records_with_column_names() -> None:
    data = b'name,price,allergens\nMapo tofu,12.50,soy\n"Dan dan, noodles",9.00,"peanut\nsesame"\n,,\n'
    document = extract(data, "menu.csv")
    assert document.sections == []
    assert document.records == [
        "name: Mapo tofu; price: 12.50; allergens: soy",
        "name: Dan dan, noodles; price: 9.00; allergens: peanut sesame",
    ]


def test_csv_semicolon_delimited_with_bom_and_decimal_commas() -> None:
    data = codecs.BOM_UTF8 + "Gericht;Preis\nKäsespätzle;12,50\nSchnitzel;15,00\n".encode()
    document = extract(data, "karte.csv")
    assert document.records == ["Gericht: Käsespätzle; Preis: 12,50", "Gericht: Schnitzel; Preis: 15,00"]


def test_csv_from_excel_in_cp1252_with_semicolons() -> None:
    data = "Plat;Prix\nCrème brûlée;6,50\n".encode("cp1252")
    assert extract(data, "carte.csv").records == ["Plat: Crème brûlée; Prix: 6,50"]


# --------------------------------------------------------------------------- type and size errors


def test_empty_file_is_refused() -> None:
    assert error_of(b"", "menu.pdf").code == "empty_file"
    assert error_of(b"  \n\t ", "notes.txt").code == "empty_file"


@pytest.mark.parametrize(
    ("data", "filename"),
    [
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "menu.png"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "menu.pdf"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "old.doc"),
        (b"some bytes", "program.exe"),
    ],
)
def test_unsupported_types_are_refused(data: bytes, filename: str) -> None:
    assert error_of(data, filename).code == "unsupported_type"


def test_text_with_no_words_after_cleanup_is_refused() -> None:
    assert error_of(b"<html><body><nav>only navigation</nav></body></html>", "index.html").code == "no_text"
