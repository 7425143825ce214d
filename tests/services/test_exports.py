"""CSV cells: formula-like text is neutralised for spreadsheets, and read back exactly."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from services.output.spreadsheets import FORMULA_PREFIXES, csv_cell, read_csv_cell


def test_formula_like_text_gets_an_apostrophe_and_plain_text_does_not():
    assert csv_cell('=HYPERLINK("http://evil.example")') == '\'=HYPERLINK("http://evil.example")'
    assert [csv_cell(text) for text in ("+1", "-1", "@sum", "'=x")] == [
        "'+1",
        "'-1",
        "'@sum",
        "''=x",
    ]
    assert [csv_cell(value) for value in ("Maths 7A", "'quoted'", "", None, True)] == [
        "Maths 7A", "'quoted'", "", "", "true"
    ]  # fmt: skip


@given(st.text(alphabet=st.sampled_from("'=+-@ab\t"), max_size=8) | st.text(max_size=20))
def test_reading_a_cell_gives_back_exactly_what_was_written(text):
    written = csv_cell(text)
    assert written[:1] not in FORMULA_PREFIXES  # a spreadsheet shows it as text
    assert read_csv_cell(written) == text
