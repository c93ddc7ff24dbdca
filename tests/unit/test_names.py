"""Name and key syntax, checked against upstream apimachinery validation cases."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from properties.names import (
    config_map_key_errors,
    dns1123_label_errors,
    dns1123_subdomain_errors,
    label_value_errors,
    path_segment_name_errors,
    qualified_name_errors,
)

DNS_LABEL = r"[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?"


@pytest.mark.parametrize(
    "value",
    [
        "a",
        "ab",
        "abc",
        "a1",
        "a-1",
        "a--1--2--b",
        "0",
        "01",
        "012",
        "1a",
        "1-a",
        "1--a--b--2",
        "a" * 63,
    ],
)
def test_valid_dns1123_labels(value: str) -> None:
    assert dns1123_label_errors(value) == []


@pytest.mark.parametrize(
    "value",
    [
        "",
        "A",
        "ABC",
        "aBc",
        "A1",
        "A-1",
        "1-A",
        "-",
        "a-",
        "-a",
        "1-",
        "-1",
        "_",
        "a_",
        "_a",
        "a_b",
        "1_",
        "_1",
        "1_2",
        "a.b",
        "a.",
        ".a",
        "a@b",
        "a,b",
        "a b",
        "a\nb",
        "a" * 64,
    ],
)
def test_invalid_dns1123_labels(value: str) -> None:
    assert dns1123_label_errors(value) != []


def test_dns1123_label_reports_dots_and_length_separately() -> None:
    assert dns1123_label_errors("a.b") == ["must not contain dots"]
    errors = dns1123_label_errors("a" * 64)
    assert errors == ["must be no more than 63 characters"]
    assert dns1123_label_errors("A")[0].startswith(
        "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-'"
    )
    assert (
        "regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?'"
        in (dns1123_label_errors("A")[0])
    )


@pytest.mark.parametrize(
    "value",
    [
        "a",
        "ab",
        "a.b",
        "a-1.b-2",
        "0.a",
        "a.b.c.d.e",
        "aa.bb.cc",
        "1.2.3.4",
        "a" * 253,
        ("a" * 63 + ".") * 3 + "a" * 61,
    ],
)
def test_valid_dns1123_subdomains(value: str) -> None:
    assert dns1123_subdomain_errors(value) == []


@pytest.mark.parametrize(
    "value",
    ["", "A", "a.B", "a..b", ".a", "a.", "-a", "a-", "a_b", "a@b", "a b", "a" * 254],
)
def test_invalid_dns1123_subdomains(value: str) -> None:
    assert dns1123_subdomain_errors(value) != []


def test_subdomain_length_counts_bytes_like_go() -> None:
    assert dns1123_subdomain_errors("a" * 254) == ["must be no more than 253 characters"]
    assert "must be no more than 63 characters" in label_value_errors("é" * 32)


@pytest.mark.parametrize(
    "value",
    [
        "simple",
        "now-with-dashes",
        "1-starts-with-num",
        "1234",
        "simple/simple",
        "now-with-dashes/simple",
        "now-with-dashes/now-with-dashes",
        "now.with.dots/simple",
        "now-with.dashes-and.dots/simple",
        "1-num.2-num/3-num",
        "1234/5678",
        "1.2.3.4/5678",
        "Uppercase_Is_OK_123",
        "example.com/Uppercase_Is_OK_123",
        "a" * 63,
        "a" * 253 + "/a",
    ],
)
def test_valid_qualified_names(value: str) -> None:
    assert qualified_name_errors(value) == []


@pytest.mark.parametrize(
    "value",
    [
        "nospecialchars%^=@",
        "cantendwithadash-",
        "-cantstartwithadash-",
        "only/one/slash",
        "Example.com/abc",
        "example_com/abc",
        "example.com/",
        "/simple",
        "a" * 64,
        "a" * 254 + "/abc",
        "",
    ],
)
def test_invalid_qualified_names(value: str) -> None:
    assert qualified_name_errors(value) != []


def test_qualified_name_messages_name_the_part() -> None:
    assert qualified_name_errors("/simple") == ["prefix part must be non-empty"]
    assert qualified_name_errors("example.com/")[0] == "name part must be non-empty"
    assert qualified_name_errors("Example.com/abc")[0].startswith("prefix part a lowercase RFC")
    assert qualified_name_errors("a" * 64)[0] == "name part must be no more than 63 characters"
    (only,) = qualified_name_errors("only/one/slash")
    assert only.startswith("a qualified name must consist of alphanumeric characters")
    assert only.endswith(
        "with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
    )
    assert "(e.g. 'MyName',  or 'my.name',  or '123-abc', regex used" in only


@pytest.mark.parametrize(
    "value",
    [
        "simple",
        "now-with-dashes",
        "1-starts-with-num",
        "end-with-num-1",
        "1234",
        "a" * 63,
        "",
        "Upper.case-Mixed_1",
    ],
)
def test_valid_label_values(value: str) -> None:
    assert label_value_errors(value) == []


@pytest.mark.parametrize(
    "value",
    [
        "nospecialchars%^=@",
        "Tama-nui-te-rā.is.Māori.sun",
        "\\backslashes\\are\\bad",
        "-starts-with-dash",
        "ends-with-dash-",
        ".starts.with.dot",
        "ends.with.dot.",
        "a" * 64,
        "has/slash",
        "has space",
    ],
)
def test_invalid_label_values(value: str) -> None:
    assert label_value_errors(value) != []


@pytest.mark.parametrize(
    "key", ["a", "ab", "abc", "a1", "-a", "a-", "a_b", "a.b", "KEY_NAME", ".a", "a..b", "a" * 253]
)
def test_valid_config_map_keys(key: str) -> None:
    assert config_map_key_errors(key) == []


def test_invalid_config_map_keys() -> None:
    assert config_map_key_errors(".") == ["must not be '.'"]
    assert config_map_key_errors("..") == ["must not be '..'"]
    assert config_map_key_errors("..a") == ["must not start with '..'"]
    assert config_map_key_errors("a" * 254) == ["must be no more than 253 characters"]
    for bad in ["", "a/b", "a b", "a:b", "a%b"]:
        (message,) = config_map_key_errors(bad)
        assert message.startswith("a valid config key must consist of alphanumeric characters")


def test_path_segment_names() -> None:
    assert path_segment_name_errors("web-0") == []
    assert path_segment_name_errors("..dots-are-fine-inside..") == []
    assert path_segment_name_errors(".") == ["may not be '.'"]
    assert path_segment_name_errors("..") == ["may not be '..'"]
    assert path_segment_name_errors("a/b%c") == ["may not contain '/'", "may not contain '%'"]


@given(st.from_regex(DNS_LABEL, fullmatch=True))
def test_every_dns_label_is_a_subdomain_and_a_qualified_name(label: str) -> None:
    assert dns1123_label_errors(label) == []
    assert dns1123_subdomain_errors(label) == []
    assert qualified_name_errors(label) == []
    assert qualified_name_errors(f"{label}.example.com/{label}") == []


@given(st.text(max_size=12))
def test_label_errors_imply_subdomain_errors_or_dots(value: str) -> None:
    label_errors = dns1123_label_errors(value)
    subdomain_errors = dns1123_subdomain_errors(value)
    assert (label_errors == []) == (subdomain_errors == [] and "." not in value)
