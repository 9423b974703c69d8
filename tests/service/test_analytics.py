"""Conversions from web analytics: GA4 and Yandex Metrica exports, UTM checks, the
reconciliation with the ad platform, and the recommendation following the chosen source."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import optimizer
from service import platforms
from service.cli import main
from service.platforms.analytics import (
    UtmMapping,
    import_analytics,
    join_sources,
    reconcile,
    utm_check,
)
from tests.conftest import REPO

EXPORTS = Path(REPO, "tests", "data", "exports")


def test_ga4_sample_parses_exactly() -> None:
    result = import_analytics(EXPORTS / "ga4_exploration.csv", goal="purchase")
    assert (result.source, result.goal, result.untagged_sessions) == ("ga4", "purchase", 2200.0)
    assert result.table.to_dict("list") == {
        "campaign": ["winter_sale"] * 6,
        "date": list(pd.to_datetime(["2026-11-01"] * 3 + ["2026-11-02"] * 3)),
        "creative": ["carousel_b", "video_a", "video_a"] * 2,
        "audience": ["lookalike_1", "lookalike_1", "yoga"] * 2,
        "sessions": [170.0, 640.0, 60.0, 160.0, 610.0, 75.0],
        "conversions": [3.0, 11.0, 0.0, 1.0, 10.0, 1.0],
        "revenue": [240.0, 1480.5, 0.0, 75.0, 1290.4, 45.99],
    }
    signups = import_analytics(EXPORTS / "ga4_exploration.csv", goal="sign_up")
    assert signups.table["conversions"].sum() == 30 + 8 + 2 + 28 + 6 + 1


def test_metrica_sample_parses_exactly() -> None:
    result = import_analytics(EXPORTS / "metrica_ru.tsv")
    assert (result.source, result.goal, result.notes) == (
        "metrica",
        "Покупка",
        ["dropped 1 total row(s)"],
    )
    assert result.table[["audience", "sessions", "conversions", "revenue"]].values.tolist() == [
        ["moscow_25_45", 480.0, 13.0, 38200.0],
        ["regions_25_45", 470.0, 7.0, 19850.0],
        ["moscow_25_45", 455.0, 9.0, 31000.0],
        ["regions_25_45", 510.0, 8.0, 24300.5],
    ]


def test_x_ads_sample_parses_exactly() -> None:
    result = platforms.import_export(EXPORTS / "x_ads.csv")
    assert (result.platform, result.currency) == ("x", "USD")
    assert result.stats[
        ["audience", "impressions", "clicks", "spend", "conversions"]
    ].values.tolist() == [
        ["Tech followers", 18402, 233, 120.5, 4.0],
        ["Lookalikes", 9930, 101, 64.2, 1.0],
        ["Tech followers", 17950, 240, 118.75, 5.0],
        ["Lookalikes", 10212, 97, 61.0, 0.0],
    ]


GA4_HEAD = (
    "# GA4\nDate,Session campaign,Session manual ad content,Session manual term,Sessions,"
    "Key events,Total revenue\n"
)

MALFORMED = [
    (
        "missing UTM columns",
        "Date,Session campaign,Sessions,Key events\n20261101,c,10,1\n",
        None,
        "no utm_content column .* 'Session manual ad content'",
    ),
    (
        "goal not found",
        (EXPORTS / "ga4_exploration.csv").read_text(),
        "refund",
        "goal 'refund' not found; the export has 'purchase', 'sign_up'",
    ),
    (
        "several goals, none chosen",
        (EXPORTS / "ga4_exploration.csv").read_text(),
        None,
        r"counts several goals \(purchase, sign_up\); choose one with --goal",
    ),
    (
        "mixed date formats",
        GA4_HEAD + "20261101,c,v,a,10,1,5\n2026-11-02,c,v,a,12,1,5\n",
        None,
        "mixed date formats \\('20261101' on line 3 and '2026-11-02' on line 4\\)",
    ),
    (
        "text in sessions",
        GA4_HEAD + "20261101,c,v,a,lots,1,5\n",
        None,
        "line 3: sessions \\('lots'\\) is not a number",
    ),
    (
        "not an analytics export",
        "a,b\n1,2\n",
        None,
        "no Google Analytics 4 or Yandex Metrica header",
    ),
]


@pytest.mark.parametrize(
    ("case", "text", "goal", "match"), MALFORMED, ids=[m[0] for m in MALFORMED]
)
def test_malformed_analytics_fail_by_name(
    case: str, text: str, goal: str | None, match: str
) -> None:
    with pytest.raises(optimizer.InvalidInputError, match=match):
        import_analytics(text.encode(), goal=goal, name="ga.csv")


def test_utm_mapping_override() -> None:
    text = GA4_HEAD.replace("Session manual term", "Session medium") + "20261101,c,v,cpc,10,1,5\n"
    with pytest.raises(optimizer.InvalidInputError, match="no utm_term column"):
        import_analytics(text.encode())
    result = import_analytics(text.encode(), utm=UtmMapping(audience="utm_medium"))
    assert result.table[["creative", "audience"]].values.tolist() == [["v", "cpc"]]
    with pytest.raises(optimizer.ConfigError, match="UTM mapping"):
        UtmMapping.from_dict({"creative": "utm_banana"})


# -- a campaign where the two sources disagree ---------------------------------------------------


def disagreeing(tmp_path: Path) -> tuple[Path, Path]:
    """14 days, two arms spending alike. The platform credits arm `a` with more conversions
    than `b`; analytics sees the opposite (platform over-credits view-throughs on `a`), and
    on the last 3 days `b`'s pixel breaks on the platform side (0 reported)."""
    rng = np.random.default_rng(4)
    days = pd.date_range("2026-11-01", periods=14)
    stats_rows, ga_rows = [], []
    for i, d in enumerate(days):
        for arm, platform_rate, analytics_rate in (("a", 12, 6), ("b", 6, 12)):
            platform = rng.poisson(platform_rate)
            if arm == "b" and i >= 11:
                platform = 0  # the platform's pixel broke
            stats_rows.append(
                {
                    "date": f"{d:%Y-%m-%d}",
                    "creative": arm,
                    "audience": "all",
                    "impressions": 9000,
                    "clicks": 300,
                    "spend": 100.0,
                    "conversions": platform,
                    "revenue": 0.0,
                }  # fmt: skip
            )
            ga_rows.append(f"{d:%Y%m%d},spring,{arm},all,250,{rng.poisson(analytics_rate)},0")
    stats_path = tmp_path / "stats.csv"
    pd.DataFrame(stats_rows).to_csv(stats_path, index=False)
    ga_path = tmp_path / "ga4.csv"
    ga_path.write_text(GA4_HEAD + "20261101,spring,c_typo,all,40,0,0\n" + "\n".join(ga_rows) + "\n")
    return stats_path, ga_path


def test_reconciliation_flags_the_broken_pixel_and_the_source_changes_the_split(
    tmp_path: Path,
) -> None:
    stats_path, ga_path = disagreeing(tmp_path)
    stats = optimizer.load_stats(stats_path)
    analytics = import_analytics(ga_path)
    table = reconcile(stats, analytics)
    flagged = table[table["flag"]]
    assert set(flagged["creative"]) == {"b"}
    assert set(flagged["date"].dt.strftime("%Y-%m-%d")) <= {
        "2026-11-12",
        "2026-11-13",
        "2026-11-14",
    }
    assert len(flagged) >= 2
    check = utm_check(stats, analytics)
    assert check[["kind", "creative"]].values.tolist() == [["unknown_arm", "c_typo"]]

    by_platform = optimizer.recommend(join_sources(stats, analytics, "platform"), 1000, seed=1)
    by_analytics = optimizer.recommend(join_sources(stats, analytics, "analytics"), 1000, seed=1)
    share = {
        name: rec.allocations.set_index("creative")["budget"].to_dict()
        for name, rec in (("platform", by_platform), ("analytics", by_analytics))
    }
    assert share["platform"]["a"] > share["platform"]["b"]
    assert share["analytics"]["b"] > share["analytics"]["a"]


def test_reconcile_and_recommend_commands(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stats_path, ga_path = disagreeing(tmp_path)
    joined = tmp_path / "joined.csv"
    code = main(
        ["reconcile", str(stats_path), str(ga_path), "--source", "analytics", "-o", str(joined)]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "tags: unknown_arm (c_typo, all)" in out and "gap jump: (b, all) 2026-11-1" in out
    assert (
        optimizer.load_stats(joined)["conversions"].sum()
        == import_analytics(ga_path).table["conversions"].sum() - 0
    )  # the typo arm's row is not an arm of the stats
    code = main(
        [
            "recommend",
            str(stats_path),
            "--budget",
            "1000",
            "--analytics",
            str(ga_path),
            "--no-track",
        ]
    )
    assert code == 0
    assert "Conversions from Google Analytics 4 (goal 'Key events')." in capsys.readouterr().out
    code = main(
        ["recommend", str(stats_path), "--budget", "1000", "--no-track", "--format", "json"]
    )
    assert '"conversion_source": "the ad platform"' in capsys.readouterr().out


def test_service_per_campaign_source(tmp_path: Path, client, keys: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    from tests.service.conftest import auth

    h = auth(keys["automation"])
    stats_path, ga_path = disagreeing(tmp_path)
    cid = client.post("/v1/campaigns", json={"name": "spring"}, headers=h).json()["id"]
    with open(stats_path, "rb") as f:
        assert (
            client.post(
                f"/v1/campaigns/{cid}/stats", files={"file": ("s.csv", f)}, headers=h
            ).status_code
            == 200
        )
    with open(ga_path, "rb") as f:
        r = client.post(f"/v1/campaigns/{cid}/analytics", files={"file": ("ga.csv", f)}, headers=h)
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["n_rows"], out["source"], out["goal"]) == (29, "Google Analytics 4", "Key events")
    assert [t["creative"] for t in out["tags"]] == ["c_typo"]
    assert {f["creative"] for f in out["flagged"]} == {"b"}
    empty = client.post("/v1/campaigns", json={"name": "no-analytics"}, headers=h).json()["id"]
    with open(stats_path, "rb") as f:
        client.post(f"/v1/campaigns/{empty}/stats", files={"file": ("s.csv", f)}, headers=h)
    rows = client.get(f"/v1/campaigns/{empty}/reconciliation", headers=h).json()["rows"]
    assert len(rows) == 28 and all(r["analytics"] == 0 and not r["flag"] for r in rows)
    rows = client.get(f"/v1/campaigns/{cid}/reconciliation", headers=h).json()["rows"]
    assert len(rows) == 28 and {"platform", "analytics", "p_value", "flag"} <= set(rows[0])
    # A window picks days; each arm's usual gap still comes from all of its days.
    last3 = client.get(f"/v1/campaigns/{cid}/reconciliation?days=3", headers=h).json()["rows"]
    assert last3 == [r for r in rows if r["date"] >= "2026-11-12"] and len(last3) == 6
    assert any(r["flag"] for r in last3)  # b's broken pixel is in these days
    both = client.get(f"/v1/campaigns/{cid}/reconciliation?days=3&end=2026-11-14", headers=h)
    assert both.status_code == 422 and both.json()["problems"][0]["field"] == "days"
    # the page asks for the reconciliation only when there is analytics to compare
    assert client.get(f"/v1/campaigns/{cid}", headers=h).json()["n_analytics_rows"] == 29
    assert client.get(f"/v1/campaigns/{empty}", headers=h).json()["n_analytics_rows"] == 0

    def split() -> tuple[str, dict[str, float]]:
        rec = client.post(
            f"/v1/campaigns/{cid}/recommendations", json={"budget": 1000}, headers=h
        ).json()
        return rec["conversion_source"], {a["creative"]: a["budget"] for a in rec["allocations"]}

    source, by_platform = split()
    assert source == "ad platform" and by_platform["a"] > by_platform["b"]
    r = client.patch(f"/v1/campaigns/{cid}", json={"conversion_source": "analytics"}, headers=h)
    assert r.status_code == 200 and r.json()["conversion_source"] == "analytics"
    source, by_analytics = split()
    assert source == "analytics (Google Analytics 4 goal 'Key events')"
    assert by_analytics["b"] > by_analytics["a"]
    bad = client.patch(f"/v1/campaigns/{cid}", json={"conversion_source": "pixels"}, headers=h)
    assert bad.status_code == 422 and bad.json()["problems"][0]["field"] == "conversion_source"
    broken = b"Date,Session campaign,Sessions,Key events\n20261101,c,10,1\n"
    r = client.post(f"/v1/campaigns/{cid}/analytics", files={"file": ("x.csv", broken)}, headers=h)
    assert r.status_code == 422 and "no utm_content column" in r.json()["problems"][0]["rule"]
