"""Issue 12: imports check every row against the accepted bounds (a file/line/column error,
never a traceback), natural keys are exact, bad zips and special files are refused."""

import json
import os
import zipfile
from pathlib import Path

import pytest

from usage.imports import ImportFailed, run_import
from usage.models import ImportJob, UsageRecord

pytestmark = pytest.mark.django_db

GENERIC_HEADER = "timestamp,model,feature,input_tokens,output_tokens,reasoning_tokens\n"


def write(tmp_path, name, text):
    path = Path(tmp_path) / name
    path.write_text(text, encoding="utf-8")
    return path


def failure(project, path, **kwargs) -> str:
    with pytest.raises(ImportFailed) as exc:
        run_import(project=project, paths=[path], **kwargs)
    assert UsageRecord.objects.count() == 0
    assert ImportJob.objects.get().status == "failed"
    return str(exc.value)


@pytest.mark.parametrize(("row", "where"), [
    ("9999-12-31T23:59:59Z,gpt-4o,f,1,1,0", "line 3, column 'timestamp'"),
    ("0001-01-01T00:00:00Z,gpt-4o,f,1,1,0", "line 3, column 'timestamp'"),
    ("2026-11-02T10:00:00+05:00,gpt-4o,f,9223372036854775807,1,0", "line 3, column 'input_tokens'"),
    ("2026-11-02T10:00:00Z,gpt-4o,f,1e300,1,0", "line 3, column 'input_tokens'"),
    ("2026-11-02T10:00:00Z,gpt-4o,f,1,1,5", "line 3, column 'reasoning_tokens'"),
    ("2026-11-02T10:00:00Z,claude-opus-4-1,f,1000000000000000,0,0", "line 3, column 'cost'"),
])
def test_generic_csv_row_out_of_bounds_names_file_line_column(project, tmp_path, row, where):
    path = write(tmp_path, "usage.csv", GENERIC_HEADER + "2026-11-02T09:00:00Z,gpt-4o,f,1,1,0\n" + row + "\n")
    assert f"usage.csv, {where}" in failure(project, path)


def test_nul_in_a_csv_cell_after_the_first_8_kb(project, tmp_path):
    rows = "".join(f"2026-11-02T09:00:{i % 60:02d}Z,gpt-4o,f{i},1,1,0\n" for i in range(400))
    path = write(tmp_path, "usage.csv", GENERIC_HEADER + rows + "2026-11-02T10:00:00Z,gpt-4o,a\x00b,1,1,0\n")
    assert "usage.csv, line 402, column 'feature': expected text without NUL" in failure(project, path)


def _assistant(**extra) -> str:
    entry = {"type": "assistant", "sessionId": "s", "cwd": "/src", "timestamp": "2026-11-02T10:00:00Z",
             "requestId": "r1", "message": {"id": "m1", "model": "claude-sonnet-4-5",
                                            "usage": {"input_tokens": 1, "output_tokens": 1}}}
    entry.update(extra)
    return json.dumps(entry) + "\n"


def test_claude_code_nul_in_git_branch_names_the_line(project, tmp_path):
    path = write(tmp_path, "s.jsonl", '{"type": "user"}\n' + _assistant(gitBranch="main\x00x"))
    assert "s.jsonl, line 2, column 'metadata'" in failure(project, path)


def test_claude_code_time_out_of_range_names_the_line(project, tmp_path):
    path = write(tmp_path, "s.jsonl", _assistant(timestamp="9999-12-31T23:59:59Z"))
    assert "s.jsonl, line 1, column 'timestamp'" in failure(project, path)


@pytest.mark.parametrize("start", [10**15, 99999999999999, 100])
def test_openai_usage_api_huge_epoch_is_a_line_error(project, tmp_path, start):
    page = {"object": "page", "data": [{"object": "bucket", "start_time": start, "end_time": start + 86400,
                                        "results": [{"object": "organization.usage.completions.result",
                                                     "input_tokens": 5, "output_tokens": 1,
                                                     "num_model_requests": 1, "model": "gpt-4o"}]}]}
    path = write(tmp_path, "usage.json", json.dumps(page))
    assert "usage.json, line 1, column 'start_time'" in failure(project, path, format="openai_usage_api")


# --- bad zips -------------------------------------------------------------------------

def _zip(tmp_path, compression=zipfile.ZIP_DEFLATED) -> Path:
    path = Path(tmp_path) / "logs.zip"
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        zf.writestr("proj/s.jsonl", _assistant() * 50)
    return path


def _patch(path: Path, offset: int, value: bytes) -> None:
    data = bytearray(path.read_bytes())
    data[offset:offset + len(value)] = value
    path.write_bytes(bytes(data))


def test_zip_with_a_crc_error(project, tmp_path):
    path = _zip(tmp_path, zipfile.ZIP_STORED)
    info = zipfile.ZipFile(path).infolist()[0]
    _patch(path, info.header_offset + 30 + len(info.filename) + 5, b"X")  # a byte of the data
    assert "logs.zip:proj/s.jsonl: a damaged zip member" in failure(project, path)


def test_encrypted_zip_member(project, tmp_path):
    path = _zip(tmp_path)
    info = zipfile.ZipFile(path).infolist()[0]
    data = path.read_bytes()
    central = data.rindex(b"PK\x01\x02")
    _patch(path, central + 8, bytes([info.flag_bits | 1]))
    _patch(path, info.header_offset + 6, bytes([info.flag_bits | 1]))
    assert "logs.zip:proj/s.jsonl: an encrypted zip member" in failure(project, path)


def test_zip_with_an_unknown_compression_method(project, tmp_path):
    path = _zip(tmp_path)
    data = path.read_bytes()
    _patch(path, data.rindex(b"PK\x01\x02") + 10, b"\x63\x00")  # method 99 (AES)
    assert "zip compression method 99 is not supported" in failure(project, path)


# --- folders: symlinks, FIFOs -------------------------------------------------------------

def test_folder_with_a_symlink_is_refused_without_reading_its_target(project, tmp_path):
    folder = Path(tmp_path) / "projects"
    folder.mkdir()
    (folder / "a.jsonl").write_text(_assistant())
    secret = write(tmp_path, "secret.txt", "TOP-SECRET first line\n")
    os.symlink(secret, folder / "b.jsonl")
    message = failure(project, folder)
    assert "b.jsonl: a symbolic link" in message and "TOP-SECRET" not in message


def test_folder_with_a_dangling_symlink_is_refused(project, tmp_path):
    folder = Path(tmp_path) / "projects"
    folder.mkdir()
    (folder / "a.jsonl").write_text(_assistant())
    os.symlink(Path(tmp_path) / "gone", folder / "b.jsonl")
    assert "b.jsonl: a symbolic link" in failure(project, folder)


def test_folder_with_a_fifo_is_refused(project, tmp_path):
    folder = Path(tmp_path) / "projects"
    folder.mkdir()
    (folder / "a.jsonl").write_text(_assistant())
    os.mkfifo(folder / "b.jsonl")
    assert "b.jsonl: not a regular file" in failure(project, folder)


# --- exact natural keys: each two-row file stores two rows, and re-imports add nothing -----

CONSOLE_HEADER = ("usage_date_utc,model_version,api_key,workspace,usage_type,context_window,"
                  "usage_input_tokens_no_cache,usage_input_tokens_cache_write_5m,"
                  "usage_input_tokens_cache_write_1h,usage_input_tokens_cache_read,usage_output_tokens,"
                  "web_search_count,inference_geo,speed\n")
PREFIX = "k" * 48


@pytest.mark.parametrize(("name", "text"), [
    ("console.csv", CONSOLE_HEADER
     + f"2026-11-02,claude-sonnet-4-6,{PREFIX}-one,Default,standard,≤ 200k,100,0,0,0,10,0,global,\n"
     + f"2026-11-02,claude-sonnet-4-6,{PREFIX}-two,Default,standard,≤ 200k,200,0,0,0,20,0,global,\n"),
    ("separators.csv", "date,model,feature,input_tokens\n2026-11-02,gpt-4o,a|b,100\n2026-11-02,gpt-4o,a/b,200\n"),
    ("features.csv", f"date,model,feature,input_tokens\n2026-11-02,gpt-4o,{'f' * 60}1,100\n"
                     f"2026-11-02,gpt-4o,{'f' * 60}2,200\n"),
    ("case.csv", "date,model,input_tokens\n2026-11-02,GPT-4o,100\n2026-11-02,gpt-4o,200\n"),
    ("requests.csv", "timestamp,model,input_tokens\n2026-11-02T10:00:00Z,gpt-4o,100\n"
                     "2026-11-02T10:00:00Z,gpt-4o,100\n"),
    ("long.csv", "date,model,feature,user,api_key,input_tokens\n"
                 f"2026-11-02,gpt-4o,{'f' * 200},{'u' * 200},{'k' * 199}1,100\n"
                 f"2026-11-02,gpt-4o,{'f' * 200},{'u' * 200},{'k' * 199}2,200\n"),
])
def test_two_distinct_rows_are_two_records_and_reimport_adds_nothing(project, tmp_path, name, text):
    path = write(tmp_path, name, text)
    first = run_import(project=project, paths=[path])
    assert (first.records_added, first.duplicates) == (2, 0)
    again = run_import(project=project, paths=[path])
    assert (again.records_added, again.records_replaced) == (0, 0)
    assert UsageRecord.objects.count() == 2
    assert all(len(r.external_id) <= 255 for r in UsageRecord.objects.all())
