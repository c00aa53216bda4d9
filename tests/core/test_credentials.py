"""Credentials never show their secret, nor more than the start of their key: every printed,
logged, pickled, encoded or raised form is searched for them."""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
import pickle
from collections.abc import Callable

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

import sdk
from sdk.credentials import KEY_PREFIX_SHOWN, Credentials, shown_url

KEY = "PUBLICKEYw5Lq0Ns2vXk8mR7tB4zYd1Hj6Fa9Ce3Gu"
SECRET = "c2VjcmV0LXNpZ25pbmcta2V5LW5ldmVyLXByaW50ZWQ="
CREDENTIALS = sdk.Credentials(key=KEY, secret=SECRET)

base64_text = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=", min_size=12)


def assert_hidden(text: str, key: str = KEY, secret: str = SECRET) -> None:
    assert secret not in text
    assert key[: KEY_PREFIX_SHOWN + 1] not in text


def raised(action: Callable[[], object]) -> str:
    """The text of the exception ``action`` raises, as a traceback would show it."""
    with pytest.raises(Exception) as caught:  # noqa: PT011 - any failure counts, its text is what is checked
        action()
    return f"{caught.value!r} {caught.value}"


def test_printed_forms_show_a_key_prefix_and_no_secret() -> None:
    forms = [repr(CREDENTIALS), str(CREDENTIALS), f"{CREDENTIALS}", f"{CREDENTIALS!r}", repr(CREDENTIALS.secret)]
    forms += [str(CREDENTIALS.secret), repr([CREDENTIALS]), repr({"credentials": CREDENTIALS})]
    for form in forms:
        assert_hidden(form)
    assert repr(CREDENTIALS) == f"Credentials(key='{KEY[:KEY_PREFIX_SHOWN]}…', secret=<redacted>)"


def test_log_lines_never_show_the_secret(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("xfeeds.test.credentials")
    with caplog.at_level(logging.DEBUG, logger=logger.name):
        logger.info(CREDENTIALS)
        logger.info("connecting with %s / %r", CREDENTIALS, CREDENTIALS)
        logger.warning("secret is %s", CREDENTIALS.secret)
        logger.debug("settings %s", {"credentials": CREDENTIALS, "secret": CREDENTIALS.secret})
        try:
            raise RuntimeError(f"failed with {CREDENTIALS}")
        except RuntimeError:
            logger.exception("signing failed for %r", CREDENTIALS)
    assert len(caplog.records) == 5
    assert_hidden(caplog.text)
    for record in caplog.records:
        assert_hidden(record.getMessage())


@pytest.mark.parametrize("target", [CREDENTIALS, CREDENTIALS.secret], ids=["credentials", "secret"])
def test_no_serializer_writes_it_out(target: object) -> None:
    failures = [
        raised(lambda: pickle.dumps(target)),
        raised(lambda: dataclasses.asdict(target)),  # type: ignore[call-overload]
        raised(lambda: msgspec.json.encode(target)),
        raised(lambda: msgspec.msgpack.encode(target)),
        raised(lambda: json.dumps(target)),
    ]
    for text in failures:
        assert_hidden(text)
    assert_hidden(json.dumps({"credentials": target}, default=str))
    assert_hidden(msgspec.json.encode([target], enc_hook=repr).decode())


def test_copies_are_the_same_read_only_object() -> None:
    assert copy.copy(CREDENTIALS) is CREDENTIALS
    assert copy.deepcopy({"c": CREDENTIALS})["c"] is CREDENTIALS
    assert copy.deepcopy(CREDENTIALS.secret) is CREDENTIALS.secret
    assert_hidden(raised(lambda: setattr(CREDENTIALS, "_key", "other")))
    assert_hidden(raised(lambda: setattr(CREDENTIALS.secret, "_text", "other")))
    assert_hidden(raised(lambda: delattr(CREDENTIALS, "_secret")))
    assert not hasattr(CREDENTIALS, "__dict__")
    assert CREDENTIALS.key == KEY
    assert CREDENTIALS.secret.reveal() == SECRET


@pytest.mark.parametrize(("key", "secret", "missing"), [("", SECRET, "key"), (KEY, "", "secret")])
def test_an_empty_part_is_refused_by_name(key: str, secret: str, missing: str) -> None:
    with pytest.raises(ValueError, match=f"non-empty {missing}") as caught:
        Credentials(key=key, secret=secret)
    assert_hidden(str(caught.value))


def test_from_env_reads_prefix_key_and_secret() -> None:
    environ = {"XFEEDS_KRAKEN_KEY": f"  {KEY}\n", "XFEEDS_KRAKEN_SECRET": f"{SECRET}\n"}
    credentials = Credentials.from_env("XFEEDS_KRAKEN", environ)
    assert credentials.key == KEY
    assert credentials.secret.reveal() == SECRET


def test_from_env_defaults_to_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XFEEDS_TESTVENUE_KEY", KEY)
    monkeypatch.setenv("XFEEDS_TESTVENUE_SECRET", SECRET)
    assert Credentials.from_env("XFEEDS_TESTVENUE").secret.reveal() == SECRET


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({}, "XFEEDS_KRAKEN_KEY and XFEEDS_KRAKEN_SECRET"),
        ({"XFEEDS_KRAKEN_KEY": KEY}, "set XFEEDS_KRAKEN_SECRET in"),
        ({"XFEEDS_KRAKEN_KEY": KEY, "XFEEDS_KRAKEN_SECRET": " \n"}, "set XFEEDS_KRAKEN_SECRET in"),
        ({"XFEEDS_KRAKEN_SECRET": SECRET}, "set XFEEDS_KRAKEN_KEY in"),
    ],
)
def test_from_env_names_the_missing_variable_never_a_value(environ: dict[str, str], named: str) -> None:
    with pytest.raises(LookupError, match=named) as caught:
        Credentials.from_env("XFEEDS_KRAKEN", environ)
    assert_hidden(str(caught.value))


@given(key=base64_text, secret=base64_text)
def test_any_secret_stays_out_of_printed_forms(key: str, secret: str) -> None:
    credentials = Credentials(key=key, secret=secret)
    for form in (repr(credentials), str(credentials), repr(credentials.secret), json.dumps([credentials], default=str)):
        assert_hidden(form, key, secret)


def test_a_url_is_shown_without_its_password() -> None:
    assert shown_url("redis://:s3cret@10.0.0.5:6379/0") == "redis://:***@10.0.0.5:6379/0"
    assert shown_url("rediss://desk:s3cret@host/1?ssl_cert_reqs=none") == "rediss://desk:***@host/1?ssl_cert_reqs=none"
    assert shown_url("redis://10.0.0.5:6379/0") == "redis://10.0.0.5:6379/0"
