"""Ad platform exports: golden parses of the committed samples, a table of malformed
files with their exact errors, the round trip, the data-quality report, the command
and the upload endpoint."""

from __future__ import annotations

import io
import string
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

import optimizer
from service import platforms
from service.cli import main
from tests.conftest import REPO
from tests.service.conftest import auth

EXPORTS = Path(REPO, "tests", "data", "exports")


def stats(*rows: tuple[str, str, str, str, int, int, float, float, float]) -> pd.DataFrame:
    return optimizer.validate_stats(pd.DataFrame(rows, columns=list(optimizer.STATS_COLUMNS)))


GOLDEN = {
    "meta_ads_manager.csv": (
        "meta",
        "EUR",
        [],
        stats(
            ("Winter sale", "2026-11-01", "Video A", "Lookalike 1%", 52310, 812, 1204.5, 14, 1530),
            (
                "Winter sale",
                "2026-11-01",
                "Carousel B",
                "Lookalike 1%",
                14880,
                201,
                310.2,
                3,
                210.5,
            ),
            ("Winter sale", "2026-11-01", "Video A", "Interests: yoga", 6012, 77, 95.0, 0, 0),
            (
                "Winter sale",
                "2026-11-02",
                "Video A",
                "Lookalike 1%",
                50002,
                790,
                1150.0,
                12,
                1320.4,
            ),
            ("Winter sale", "2026-11-02", "Carousel B", "Lookalike 1%", 14100, 188, 298.75, 4, 301),
            ("Winter sale", "2026-11-02", "Video A", "Interests: yoga", 6500, 80, 101.3, 1, 45.99),
        ),
    ),
    "google_ads.csv": (
        "google",
        "USD",
        ["dropped 2 total row(s)"],
        stats(
            ("Search - Brand", "2026-11-01", "RSA 1", "Brand exact", 3120, 402, 512.33, 21.5, 2150),
            ("Search - Brand", "2026-11-01", "RSA 1", "Brand broad", 8004, 310, 640.10, 9, 830),
            ("Search - Brand", "2026-11-02", "RSA 1", "Brand exact", 2980, 377, 498.0, 19, 1905.5),
            ("Search - Brand", "2026-11-02", "RSA 1", "Brand broad", 7650, 298, 601.75, 0, 0),
        ),
    ),
    "tiktok_ads_manager.csv": (
        "tiktok",
        "USD",
        [],
        stats(
            (
                "Spring push",
                "2026-11-01",
                "Dance clip",
                "Women 18-24",
                41230,
                615,
                220.4,
                18,
                944.1,
            ),
            ("Spring push", "2026-11-01", "Dance clip", "Women 25-34", 30110, 402, 180.0, 9, 510.0),
            (
                "Spring push",
                "2026-11-02",
                "Dance clip",
                "Women 18-24",
                42001,
                640,
                231.95,
                20,
                1021.35,
            ),
            (
                "Spring push",
                "2026-11-02",
                "Dance clip",
                "Women 25-34",
                29876,
                390,
                175.25,
                11,
                603.2,
            ),
        ),
    ),
    "vk_ads_ru.csv": (
        "vk",
        "RUB",
        ["dropped 1 total row(s)"],
        stats(
            (
                "Чёрная пятница",
                "2026-11-01",
                "Баннер 1",
                "Москва 25-45",
                12400,
                310,
                4520.5,
                12,
                38200,
            ),
            (
                "Чёрная пятница",
                "2026-11-01",
                "Баннер 1",
                "Регионы 25-45",
                18900,
                402,
                3980,
                7,
                19850,
            ),
            (
                "Чёрная пятница",
                "2026-11-02",
                "Баннер 1",
                "Москва 25-45",
                11870,
                298,
                4410.25,
                10,
                31000,
            ),
            (
                "Чёрная пятница",
                "2026-11-02",
                "Баннер 1",
                "Регионы 25-45",
                19420,
                415,
                4105.75,
                9,
                24300.5,
            ),
        ),
    ),
    "vk_ads_en.csv": (
        "vk",
        "RUB",
        [],
        stats(
            (
                "Black Friday",
                "2026-11-01",
                "Banner 1",
                "Moscow 25-45",
                12400,
                310,
                4520.5,
                12,
                38200,
            ),
            (
                "Black Friday",
                "2026-11-02",
                "Banner 1",
                "Moscow 25-45",
                11870,
                298,
                4410.25,
                10,
                31000,
            ),
        ),
    ),
}


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_sample_exports_parse_exactly(name: str) -> None:
    platform, currency, notes, want = GOLDEN[name]
    result = platforms.import_export(EXPORTS / name)
    assert (result.platform, result.currency, result.notes) == (platform, currency, notes)
    pd.testing.assert_frame_equal(result.stats, want)
    # the platform named explicitly gives the same answer
    again = platforms.import_export(EXPORTS / name, platform=platform)
    pd.testing.assert_frame_equal(again.stats, want)


META_HEAD = (
    "Day,Campaign name,Ad set name,Ad name,Currency,Amount spent (EUR),Impressions,"
    "Link clicks,Results\n"
)
META_ROW = "2026-11-01,C,Lookalike,Video A,EUR,12.50,1000,40,2\n"
GOOGLE_HEAD = (
    "Ad report\nNovember 1, 2026 - November 1, 2026\n"
    "Day\tCampaign\tAd group\tAd\tImpr.\tClicks\tCost\tConversions\n"
)

MALFORMED = [
    ("empty file", b"", "auto", "export.csv is empty"),
    (
        "wrong encoding (Windows-1251)",
        "Дата;Кампания;Группа объявлений;Объявление;Показы;Клики;Потрачено;Конверсии\n".encode(
            "cp1251"
        ),
        "auto",
        r"line 1 is not UTF-8 text .*export as UTF-8 or UTF-16",
    ),
    ("no header", b"hello\nworld\n", "auto", "no header row found in the first 30 lines"),
    (
        "missing required column",
        (
            META_HEAD.replace("Ad set name,", "") + "2026-11-01,C,Video A,EUR,12.50,1000,40,2\n"
        ).encode(),
        "auto",
        r"matches no platform \(nearest: Meta Ads Manager\): missing audience: "
        r"one of 'Ad set name'",
    ),
    (
        "text in a number column",
        (META_HEAD + META_ROW.replace(",40,", ",many,")).encode(),
        "auto",
        r"row 1: line 2: clicks \('many'\) is not a number",
    ),
    (
        "negative spend",
        (META_HEAD + META_ROW.replace("12.50", "-12.50")).encode(),
        "auto",
        r"line 2: spend \('-12.50'\) must be >= 0",
    ),
    (
        "totals row only",
        (GOOGLE_HEAD + "Total: Account\t--\t--\t--\t1000\t40\t12.50\t2\n").encode("utf-16"),
        "auto",
        r"has no data rows \(only totals\?\)",
    ),
    (
        "date in another format",
        (META_HEAD + META_ROW.replace("2026-11-01", "01/11/2026")).encode(),
        "auto",
        r"line 2: date \('01/11/2026'\) is not a Meta Ads Manager date \(like 2026-11-27\)",
    ),
    (
        "a row with an extra field",
        (META_HEAD + META_ROW.replace("12.50", "12,50")).encode(),
        "auto",
        "line 2: 10 fields where the header has 9",
    ),
    (
        "mixed currencies",
        (
            META_HEAD + META_ROW + META_ROW.replace("EUR", "USD").replace("Video A", "Video B")
        ).encode(),
        "auto",
        r"the export mixes currencies \(EUR, USD\)",
    ),
    (
        "Meta rows covering a week",
        (
            b"Reporting starts,Reporting ends,Campaign name,Ad set name,Ad name,Amount spent (EUR),"
            b"Impressions,Link clicks,Results\n2026-11-01,2026-11-07,C,A,V,12.5,1000,40,2\n"
        ),
        "auto",
        "covers 2026-11-01 to 2026-11-07, not one day; export with the breakdown Time > Day",
    ),
    (
        "Meta Results mixing actions",
        (
            META_HEAD.replace("Results\n", "Results,Result indicator\n")
            + META_ROW.replace(",2\n", ",2,purchase\n")
            + META_ROW.replace("Video A", "Video B").replace(",2\n", ",5,lead\n")
        ).encode(),
        "auto",
        r"'Results' counts different actions \(lead, purchase\)",
    ),
    (
        "the same day twice with different figures",
        (META_HEAD + META_ROW + META_ROW.replace(",40,", ",41,")).encode(),
        "auto",
        r"lines 2, 3: 2026-11-01 of \(Video A, Lookalike\) appears with different figures",
    ),
    (
        "clicks above impressions",
        (META_HEAD + META_ROW.replace(",1000,40,", ",10,40,")).encode(),
        "auto",
        r"row 1: clicks \(40\) > impressions \(10\)",
    ),
    (
        "fractional impressions",
        (META_HEAD + META_ROW.replace(",1000,", ",1000.5,")).encode(),
        "auto",
        r"line 2: impressions \(1000.5\) is not a whole number",
    ),
    (
        "a Google export read as Meta",
        (GOOGLE_HEAD + "2026-11-01\tC\tG\tAd 1\t1000\t40\t12.50\t2\n").encode("utf-16"),
        "meta",
        r"no header row found in the first 30 lines \(Meta Ads Manager columns such as 'Day'",
    ),
    (
        "data rows only, header lost",
        ("\n".join([META_ROW.strip()] * 3) + "\n").encode(),
        "auto",
        "no header row found",
    ),
]


@pytest.mark.parametrize(
    ("case", "content", "platform", "match"), MALFORMED, ids=[m[0] for m in MALFORMED]
)
def test_malformed_exports_fail_by_name_and_import_nothing(
    case: str, content: bytes, platform: str, match: str
) -> None:
    with pytest.raises(optimizer.InvalidInputError, match=match) as err:
        platforms.import_export(content, platform=platform, name="export.csv")
    assert err.value.problems  # every problem is listed, none half-applied
    assert "Traceback" not in str(err.value)


def test_conversions_column_chosen_by_name() -> None:
    content = (
        b"Day,Campaign name,Ad set name,Ad name,Amount spent (EUR),Impressions,Link clicks,"
        b"Results,Leads,Purchases\n2026-11-01,C,A,V,12.5,1000,40,9,7,2\n"
    )
    assert platforms.import_export(content).stats["conversions"].tolist() == [9.0]
    chosen = platforms.import_export(content, conversions="Purchases")
    assert (
        chosen.stats["conversions"].tolist() == [2.0]
        and chosen.columns["conversions"] == "Purchases"
    )
    with pytest.raises(optimizer.InvalidInputError, match="has no column 'Sales'"):
        platforms.import_export(content, conversions="Sales")


def test_user_mapping_reads_any_export(tmp_path: Path) -> None:
    mapping = tmp_path / "m.yaml"
    mapping.write_text(
        "title: In-house DSP\ndate_format: '%d/%m/%Y'\ndecimal_comma: true\ncolumns:\n"
        "  date: Tag\n  creative: Motiv\n  audience: Zielgruppe\n  impressions: Einblendungen\n"
        "  clicks: Klicks\n  spend: [Kosten, Ausgaben]\n  conversions: Käufe\n"
    )
    content = (
        "Tag;Motiv;Zielgruppe;Einblendungen;Klicks;Ausgaben;Käufe\n"
        "27/11/2026;M1;Z1;1.000;40;12,50;2\n"
    )
    preset = platforms.preset_from_mapping(platforms.read_mapping(mapping))
    result = platforms.import_export(content.encode(), preset=preset)
    assert result.stats[["impressions", "spend", "conversions"]].values.tolist() == [
        [1000, 12.5, 2]
    ]
    with pytest.raises(optimizer.ConfigError, match="no header given for clicks"):
        platforms.preset_from_mapping(
            {
                "columns": {
                    "date": "d",
                    "creative": "c",
                    "audience": "a",
                    "impressions": "i",
                    "spend": "s",
                    "conversions": "v",
                }
            }
        )


names = (
    st.text(alphabet=string.ascii_letters + "йцукенгшщзх ЖЭ-_%:", min_size=1, max_size=12)
    .map(str.strip)
    .filter(bool)
)


@st.composite
def stats_tables(draw: st.DrawFn) -> pd.DataFrame:
    creatives = draw(st.lists(names, min_size=1, max_size=3, unique=True))
    audiences = draw(st.lists(names, min_size=1, max_size=3, unique=True))
    n_days = draw(st.integers(1, 4))
    rows = []
    for d in range(n_days):
        for c in creatives:
            for a in audiences:
                impressions = draw(st.integers(0, 10**6))
                clicks = draw(st.integers(0, impressions))
                rows.append(
                    (
                        "Camp",
                        f"2026-02-{d + 1:02d}",
                        c,
                        a,
                        impressions,
                        clicks,
                        draw(st.integers(0, 10**7)) / 100,
                        float(draw(st.integers(0, 500))),
                        draw(st.integers(0, 10**7)) / 100,
                    )  # fmt: skip
                )
    return stats(*rows)


@settings(max_examples=40)
@given(table=stats_tables(), platform=st.sampled_from(sorted(platforms.PRESETS)))
def test_round_trip_stats_platform_layout_import(table: pd.DataFrame, platform: str) -> None:
    exported = platforms.render_report(table, platform, currency="EUR")
    result = platforms.import_export(exported)
    assert result.platform == platform
    pd.testing.assert_frame_equal(result.stats, table)


# -- data-quality report -------------------------------------------------------------------------


def _arm_days(
    n: int, conversions: list[float], clicks: int = 100, spend: float = 50.0
) -> list[tuple]:  # type: ignore[type-arg]
    return [
        ("C", f"2026-03-{d + 1:02d}", "c1", "a1", 5000, clicks, spend, conversions[d], 0.0)
        for d in range(n)
    ]


def test_an_ongoing_tracking_break_holds_the_arm() -> None:
    conv = [5.0] * 10 + [0.0] * 4  # 5 per 100 clicks, then 400 clicks with none: P = e^-20
    report = platforms.quality_report(stats(*_arm_days(14, conv)))
    found = report.findings.set_index("kind").loc["tracking_break"]
    assert (found["first_day"], found["last_day"]) == ("2026-03-11", "2026-03-14")
    assert "400 clicks over 4 days" in found["detail"] and "2.1e-09" in found["detail"]
    assert found["effect"].startswith("held at its current spend")
    assert report.hold == [("c1", "a1")]


def test_a_believable_quiet_spell_is_not_a_break() -> None:
    conv = [0.2 * (d % 5 == 0) * 5 for d in range(14)]  # 1 conversion every 5 days
    assert platforms.quality_report(stats(*_arm_days(14, conv))).findings.empty


def test_missing_days_jumps_and_shortfall_are_reported() -> None:
    rows = _arm_days(8, [2.0] * 8)
    rows[5] = rows[5][:6] + (500.0,) + rows[5][7:]  # day 6: CPC 5.0 against a 0.5 median
    other = [("C", f"2026-03-0{d}", "c2", "a1", 5000, 100, 40.0, 2.0, 0.0) for d in (1, 2, 5, 8)]
    approved = pd.DataFrame(
        {"creative": ["c1", "c2"], "audience": ["a1", "a1"], "budget": [50.0, 100.0]}
    )
    report = platforms.quality_report(stats(*rows, *other), approved=approved)
    by_kind = {k: g for k, g in report.findings.groupby("kind")}
    missing = by_kind["missing_days"].iloc[0]
    assert (missing["creative"], missing["first_day"], missing["last_day"]) == (
        "c2",
        "2026-03-03",
        "2026-03-07",
    )
    assert "no row on 4 day(s)" in missing["detail"]
    jump = by_kind["cpc_jump"].iloc[0]
    assert (jump["creative"], jump["first_day"]) == ("c1", "2026-03-06")
    short = by_kind["delivery_shortfall"].iloc[0]
    assert (
        short["creative"] == "c2" and "spent 40.00 of the approved 100.00 (40%)" in short["detail"]
    )
    assert report.hold == []
    assert report.to_dict()["n_findings"] == len(report.findings)


# -- command, endpoint, split out ------------------------------------------------------------


def test_import_command_writes_stats_and_prints_the_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "stats.csv"
    assert main(["import", str(EXPORTS / "google_ads.csv"), "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert (
        "google_ads.csv: Google Ads export, 4 rows, 2026-11-01 .. 2026-11-02, 2 arms, currency USD"
        in text
    )
    assert "note: dropped 2 total row(s)" in text and "data quality: no findings" in text
    pd.testing.assert_frame_equal(optimizer.load_stats(out), GOLDEN["google_ads.csv"][3])
    bad = tmp_path / "bad.csv"
    bad.write_bytes((META_HEAD + META_ROW.replace(",40,", ",many,")).encode())
    assert main(["import", str(bad), "-o", str(tmp_path / "x.csv")]) == 2
    assert "clicks ('many') is not a number" in capsys.readouterr().err
    assert not (tmp_path / "x.csv").exists()


def test_upload_endpoint_takes_platform_exports(client: TestClient, keys: dict[str, str]) -> None:
    h = auth(keys["automation"])
    cid = client.post("/v1/campaigns", json={"name": "winter"}, headers=h).json()["id"]
    with open(EXPORTS / "meta_ads_manager.csv", "rb") as f:
        r = client.post(f"/v1/campaigns/{cid}/stats", files={"file": ("meta.csv", f)}, headers=h)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["platform"], body["currency"], body["n_inserted"]) == ("meta", "EUR", 6)
    assert body["quality"]["n_findings"] == 0
    campaign = client.get(f"/v1/campaigns/{cid}", headers=h).json()
    assert (campaign["platform"], campaign["currency"]) == ("meta", "EUR")
    # a USD export for the EUR campaign is refused whole
    with open(EXPORTS / "tiktok_ads_manager.csv", "rb") as f:
        r = client.post(f"/v1/campaigns/{cid}/stats", files={"file": ("t.csv", f)}, headers=h)
    assert (
        r.status_code == 422
        and "is in EUR; this export is in USD" in r.json()["problems"][0]["rule"]
    )
    assert client.get(f"/v1/campaigns/{cid}", headers=h).json()["n_stats_rows"] == 6
    bad = (META_HEAD + META_ROW.replace(",40,", ",many,")).encode()
    r = client.post(f"/v1/campaigns/{cid}/stats", files={"file": ("bad.csv", bad)}, headers=h)
    assert r.status_code == 422 and r.json()["problems"][0] == {
        "row": 1,
        "field": "clicks",
        "rule": "line 2: clicks ('many') is not a number",
        "value": "many",
    }
    r = client.post(f"/v1/campaigns/{cid}/recommendations", json={"budget": 6000}, headers=h)
    assert r.status_code == 201, r.text
    rec = r.json()
    client.post(f"/v1/recommendations/{rec['id']}/approve", headers=h)
    split = client.get(f"/v1/recommendations/{rec['id']}/split.csv", headers=h)
    table = pd.read_csv(io.StringIO(split.text))
    assert list(table.columns) == ["Campaign Name", "Ad Set Name", "Ad Name", "Ad Set Daily Budget"]
    assert table["Ad Set Daily Budget"].sum() == pytest.approx(6000, abs=0.01)
    ours = client.get(
        f"/v1/recommendations/{rec['id']}/split.csv", params={"layout": "adbandit"}, headers=h
    )
    assert ours.text.splitlines()[0] == "creative,audience,budget"
    # the next export is checked against the approved split: the platform underspent it
    day3 = "\n".join(
        line.replace("2026-11-02", "2026-11-03")
        for line in (EXPORTS / "meta_ads_manager.csv").read_text().splitlines()
        if "2026-11-01" not in line
    )
    r = client.post(f"/v1/campaigns/{cid}/stats", files={"file": ("d3.csv", day3)}, headers=h)
    kinds = {f["kind"] for f in r.json()["quality"]["findings"]}
    assert "delivery_shortfall" in kinds, r.json()["quality"]


def test_vk_split_uses_its_separator_and_decimal_comma() -> None:
    split = pd.DataFrame({"creative": ["Баннер 1"], "audience": ["Москва"], "budget": [1234.5]})
    content, media = platforms.split_for_platform(split, "vk", "Чёрная пятница")
    assert media == "text/csv"
    assert content.decode().splitlines() == [
        "Кампания;Группа объявлений;Объявление;Дневной бюджет",
        "Чёрная пятница;Москва;Баннер 1;1234,50",
    ]
