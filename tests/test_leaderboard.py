"""Leaderboards: the committed CSVs validate, malformed rows are named by file and line, and ranking never
crosses protocol fingerprints (published and local rows)."""

import csv
import json

import pytest
from typer.testing import CliRunner

from gbench import leaderboard as lb
from gbench.cli import app
from gbench.errors import GBenchError

HEADER = ",".join(lb.COLUMNS)
GOOD = "cifar10,ModelA,unconditional,FID,12.5,,paper:tf-inception-50k-train,50000,50000,train,\"Someone 2020, Table 1\","


def write(folder, name, lines):
    path = folder / name
    path.write_text("\n".join(lines) + "\n")
    return path


def test_committed_boards_validate_and_name_their_sources():
    rows = lb.load_published()
    assert {r.board for r in rows} == set(lb.BOARDS)  # every board has published rows
    assert all(r.source and r.protocol for r in rows)
    for board in lb.BOARDS:
        assert (lb.leaderboard_dir() / f"{board}.csv").exists()
    # headline numbers from paper_tables.md / models.md are there, with their values
    find = {(r.board, r.model, r.metric): r for r in rows}
    assert find[("cifar10", "TransGAN-XL", "FID")].value == 11.89 and find[("cifar10", "TransGAN-XL", "IS")].std == 0.16
    assert find[("cifar10", "StyleGAN2 + DiffAugment", "FID")].protocol == "paper:tf-inception-10k-test"
    assert find[("sr_x4", "SRGAN-VGG54", "psnr_y/Set14")].value == 26.02
    assert find[("cityscapes_labels2photo", "CycleGAN", "class_iou")].value == 0.11
    assert find[("gan_inversion", "DGP", "psnr")].value == 32.89


def test_columns_match_gbench_eval_leaderboard_lines():
    from gbench.evaluation.sources import LEADERBOARD_COLUMNS

    assert lb.COLUMNS == LEADERBOARD_COLUMNS


@pytest.mark.parametrize("bad_line, message", [
    (GOOD.replace(",12.5,", ",twelve,"), "column 'value' is not a number: 'twelve'"),
    (GOOD.replace(",12.5,,", ",12.5,-1,"), "column 'std' is negative"),
    (GOOD.replace("cifar10,ModelA", "cifar100,ModelA"), "unknown board 'cifar100'"),
    (GOOD.replace("paper:tf-inception-50k-train", "paper:made-up"), "unknown protocol 'paper:made-up'"),
    (GOOD.replace("\"Someone 2020, Table 1\"", ""), "column 'source' is empty"),
    (GOOD.replace(",50000,50000,", ",5e4,50000,"), "column 'n_gen' is not a whole number"),
    (GOOD + ",extra", "expected 12 fields, found 13"),
    ("stl10" + GOOD[len("cifar10"):], "does not match the file"),
])
def test_malformed_row_names_file_and_line(tmp_path, bad_line, message):
    path = write(tmp_path, "cifar10.csv", [HEADER, GOOD, bad_line, GOOD])
    with pytest.raises(GBenchError) as info:
        lb.read_board_csv(path)
    text = str(info.value)
    assert "cifar10.csv:3: " in text and message in text and "\n" not in text


def test_header_errors_name_line_one(tmp_path):
    path = write(tmp_path, "cifar10.csv", [HEADER.replace(",std", ""), GOOD])
    with pytest.raises(GBenchError, match=r"cifar10\.csv:1: .*missing std"):
        lb.read_board_csv(path)


def test_malformed_csv_is_one_line_on_the_cli(tmp_path, monkeypatch):
    write(tmp_path, "cifar10.csv", [HEADER, GOOD, GOOD.replace(",12.5,", ",x,")])
    monkeypatch.setenv("GBENCH_LEADERBOARDS", str(tmp_path))
    result = CliRunner().invoke(app, ["leaderboard", "cifar10", "--runs", str(tmp_path / "none")])
    assert result.exit_code == 1  # a damaged input file: a failure, not a usage error
    assert "cifar10.csv:3: column 'value' is not a number" in result.output


def fake_run(root, experiment, name, fingerprint, fid, is_mean=None):
    """A run directory with the files the leaderboard reads (no training)."""
    run_dir = root / experiment / name
    run_dir.mkdir(parents=True)
    metrics = {"fid": fid, **({"is_mean": is_mean, "is_std": 0.1} if is_mean is not None else {})}
    final = {"step": 10, "generator": "ema", "protocol": fingerprint.split("@")[0], "fingerprint": fingerprint, "metrics": metrics,
             "n_gen": 2000, "n_ref": 5000, "comparable_to": "not comparable to any published number"}
    (run_dir / "eval.json").write_text(json.dumps({"experiment": experiment, "preset": "smoke", "final": final, "evaluations": [final]}))
    (run_dir / "config.json").write_text(json.dumps({"config": {"experiment": experiment, "seed": 3}}))
    return run_dir


def test_ranking_stays_within_one_protocol(tmp_path):
    # published rows of two protocols whose values interleave, plus an unranked (unspecified) one
    lines = [HEADER,
             "cifar10,A,s,FID,10,,paper:tf-inception-50k-train,50000,50000,train,src A,",
             "cifar10,B,s,FID,11,,paper:tf-inception-10k-test,10000,10000,test,src B,",
             "cifar10,C,s,FID,12,,paper:tf-inception-50k-train,50000,50000,train,src C,",
             "cifar10,D,s,FID,9,,paper:tf-inception-10k-test,10000,10000,test,src D,",
             "cifar10,E,s,FID,8,,paper:tf-inception-50k-train,50000,50000,train,src E,",
             "cifar10,F,s,FID,1,,paper:unspecified,,,,src F,"]
    (tmp_path / "boards").mkdir()
    write(tmp_path / "boards", "cifar10.csv", lines)
    runs = tmp_path / "runs"
    fake_run(runs, "transgan-s", "paper-aaaaaaaa", "cifar10-50k@11111111", 30.0, 7.0)
    fake_run(runs, "transgan-m", "paper-bbbbbbbb", "cifar10-50k@11111111", 20.0, 7.5)
    fake_run(runs, "transgan-l", "paper-cccccccc", "cifar10-50k@22222222", 5.0)  # same protocol id, other weights: never ranked with the two above
    board, groups = lb.build_board("cifar10", runs, directory=tmp_path / "boards")
    assert [g.protocol for g in groups][:2] == ["paper:tf-inception-50k-train", "paper:tf-inception-10k-test"]
    for g in groups:
        assert len({e.protocol for e in g.entries}) == 1  # one protocol per group: no interleaving
    by_protocol = {g.protocol: g for g in groups}
    assert [(e.model, e.rank) for e in by_protocol["paper:tf-inception-50k-train"].entries] == [("E", 1), ("A", 2), ("C", 3)]
    assert [(e.model, e.rank) for e in by_protocol["paper:tf-inception-10k-test"].entries] == [("D", 1), ("B", 2)]
    local = by_protocol["cifar10-50k@11111111"]
    assert [(e.model, e.rank) for e in local.entries] == [("transgan-m", 1), ("transgan-s", 2)]
    assert local.entries[0].run_dir.endswith("paper-bbbbbbbb") and "seed 3" in local.entries[0].setting
    assert [e.rank for e in by_protocol["cifar10-50k@22222222"].entries] == [1]
    assert all(e.rank is None for e in by_protocol["paper:unspecified"].entries)  # listed, never ranked
    assert groups[-1].protocol == "paper:unspecified"
    assert "n_gen 10000 (vs 50000)" in by_protocol["paper:tf-inception-10k-test"].differs
    assert "extractor inception-v3-compat" in local.differs
    # ranking by a higher-is-better metric goes the other way
    _, by_is = lb.build_board("cifar10", runs, directory=tmp_path / "boards", metric="IS")
    assert [e.model for e in next(g for g in by_is if g.protocol == "cifar10-50k@11111111").entries] == ["transgan-m", "transgan-s"]


def test_leaderboard_cli_formats_and_local_boards(tmp_path):
    runs = tmp_path / "runs"
    fake_run(runs, "dcgan", "smoke-11111111", "toy-shapes32@abcdef12", 80.0, 2.0)
    fake_run(runs, "dcgan", "smoke-22222222", "toy-shapes32@abcdef12", 60.0, 2.5)
    out = CliRunner().invoke(app, ["leaderboard", "shapes32", "--runs", str(runs), "--format", "csv"])
    assert out.exit_code == 0, out.output
    rows = list(csv.DictReader(out.output.splitlines()))
    fid = [r for r in rows if r["metric"] == "FID"]
    assert [(r["value"], r["rank"]) for r in fid] == [("60", "1"), ("80", "2")]
    assert all(r["protocol"] == "toy-shapes32@abcdef12" and "local run" in r["source"] for r in rows)
    md = CliRunner().invoke(app, ["leaderboard", "cifar10", "--runs", str(runs), "--format", "md"])
    assert md.exit_code == 0 and "## protocol paper:tf-inception-50k-train (ranked by FID)" in md.output
    assert "| 1 | TransGAN (NeurIPS 2021) |" in md.output
    unknown = CliRunner().invoke(app, ["leaderboard", "cifar1O", "--runs", str(runs)])
    assert unknown.exit_code == 2 and "did you mean 'cifar10'" in unknown.output


def test_nearest_neighbours_of_a_run(tmp_path):
    runs = tmp_path / "runs"
    dirs = [fake_run(runs, "transgan-s", f"paper-{i:08d}", "cifar10-50k@11111111", fid) for i, fid in enumerate((40.0, 20.0, 30.0))]
    found = lb.nearest_neighbours(dirs[2], k=1)
    assert found["board"] == "cifar10" and found["rank"] == 2 and found["of"] == 3
    assert [e.values["FID"][0] for e in found["same"]] == [20.0, 30.0, 40.0]
    # published rows under the paper protocol that cifar10-50k nominally matches, nearest in value first
    assert found["nominal"] and {e.protocol for e in found["nominal"]} == {"paper:tf-inception-50k-train"}
    assert abs(found["nominal"][0].values["FID"][0] - 30.0) <= abs(found["nominal"][-1].values["FID"][0] - 30.0)
