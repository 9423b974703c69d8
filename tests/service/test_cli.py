"""The ``adbandit`` command: output people read, exit codes, no tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from service.cli import main
from tests.conftest import REPO


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_validate_prints_a_summary(capsys, sample_stats_path: str) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run(capsys, "validate", sample_stats_path)
    assert code == 0 and err == ""
    assert "336 rows" in out
    assert "12 (4 creatives x 3 audiences)" in out
    assert "2026-10-01 .. 2026-10-28 (28 days)" in out


def test_recommend_table_is_aligned_and_explains(capsys, sample_stats_path, sample_current_path):  # type: ignore[no-untyped-def]
    code, out, err = run(
        capsys,
        "recommend",
        sample_stats_path,
        "--budget",
        "1200",
        "--current",
        sample_current_path,
        "--config",
        os.path.join(REPO, "data", "sample_config.toml"),
        "--seed",
        "7",
    )
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "Budget split for autumn_sale on 2026-10-29: 1,200.00 across 12 arms"
    header = next(i for i, line in enumerate(lines) if line.lstrip().startswith("#  creative"))
    rows = lines[header + 1 : header + 13]
    assert len({len(r) for r in rows}) == 1  # aligned columns
    assert "ugc_video" in out and "Why:" in out and "held by the 30% change cap" in out
    assert out.count("\n  1. ") == 1 and "12. " in out


def test_recommend_json_and_csv(capsys, sample_stats_path: str) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run(
        capsys, "recommend", sample_stats_path, "--budget", "500", "--format", "json"
    )
    assert code == 0
    payload = json.loads(out)
    assert payload["budget"] == 500.0 and len(payload["allocations"]) == 12
    code, out, _ = run(capsys, "recommend", sample_stats_path, "--budget", "500", "--format", "csv")
    assert code == 0
    from io import StringIO

    table = pd.read_csv(StringIO(out))
    assert round(table["budget"].sum(), 2) == 500.0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["validate", "missing.csv"], "error: invalid stats: 1 problem\n  table: file not found"),
        (
            ["recommend", "{stats}", "--budget", "-5"],
            "error: budget (-5.0) must be a finite amount of at least one cent",
        ),
        (["recommend", "{stats}", "--budget", "10", "--config", "nope.toml"], "cannot read config"),
        (["recommend", "{bad}", "--budget", "10"], "row 2: clicks (900) > impressions (100)"),
    ],
)
def test_errors_exit_2_with_a_message(capsys, tmp_path: Path, sample_stats_path, args, message):  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "date,creative,audience,impressions,clicks,spend,conversions\n"
        "2026-01-01,c,a,100,5,10,1\n2026-01-02,c,a,100,900,10,1\n"
    )
    args = [a.format(stats=sample_stats_path, bad=bad) for a in args]
    code, out, err = run(capsys, *args)
    assert code == 2 and out == ""
    assert err.startswith(message) or message in err
    assert "Traceback" not in err


def test_installed_command_exits_2_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("date,creative\n2026-01-01,c\n")
    exe = Path(sys.executable).with_name("adbandit")
    proc = subprocess.run([str(exe), "validate", str(bad)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.splitlines()[0] == "error: invalid stats: 5 problems"
    assert "required column 'audience' is missing" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_check_reports_delay_and_fatigue(capsys, sample_stats_path: str) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run(capsys, "check", sample_stats_path)
    assert code == 0, err
    assert out.startswith("Conversion delay: no conversion delay (stats)\n  no delay detected")
    assert "Creative fatigue:" in out and out.count(" ok ") == 4


def test_recommend_with_a_given_delay_profile(capsys, sample_stats_path: str) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run(
        capsys,
        "recommend",
        sample_stats_path,
        "--budget",
        "500",
        "--delay",
        "90% within 7 days",
        "--format",
        "json",
    )
    assert code == 0
    assert json.loads(out)["delay"]["source"] == "given"
    code, _, err = run(capsys, "recommend", sample_stats_path, "--budget", "5", "--delay", "soon")
    assert code == 2 and "lag profile 'soon' not understood" in err


def test_piping_into_head_is_quiet(sample_stats_path: str) -> None:
    exe = Path(sys.executable).with_name("adbandit")
    proc = subprocess.run(
        f"'{exe}' check '{sample_stats_path}' | head -1", shell=True, capture_output=True, text=True
    )
    assert proc.stdout.startswith("Conversion delay") and "Traceback" not in proc.stderr


def test_abtest_analyze(capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    counts = tmp_path / "ab.csv"
    counts.write_text("variant,users,conversions\nA,2000,200\nB,2000,236\n")
    code, out, err = run(capsys, "abtest", "analyze", str(counts), "--control", "A")
    assert code == 0, err
    assert out.splitlines()[0] == "A/B readout (conversion_rate), control A"
    assert "Sample ratio: ok" in out and "Verdict: stop: B is best with 96.6% chance" in out
    code, out, _ = run(
        capsys, "abtest", "analyze", str(counts), "--control", "A", "--format", "json"
    )
    assert json.loads(out)["decision"] == {
        "stop": True,
        "winner": "B",
        "reason": json.loads(out)["decision"]["reason"],
    }
    code, _, err = run(capsys, "abtest", "analyze", str(counts), "--control", "Z")
    assert code == 2 and "control 'Z' is not a variant" in err
