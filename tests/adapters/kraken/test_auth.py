"""Kraken's REST authentication: the documented signing vector, the token request as Kraken
specifies it, replies captured from the venue, nonces, and no secret or token in any text."""

from __future__ import annotations

import base64
import dataclasses
import itertools
import json
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.kraken.auth import (
    DEFAULT_REST_URL,
    TOKEN_PATH,
    api_sign,
    parse_token_reply,
    token_request,
)
from sdk import Credentials
from sdk.trading_contract import NonceSource, TokenRequestFailed
from tests.conftest import fixture_lines

FIXTURE = json.loads("\n".join(fixture_lines("kraken/rest_token.json")))
VECTOR = FIXTURE["api_sign"]
TOKENS = FIXTURE["get_websockets_token"]
TOKEN_REPLIES = [TOKENS["response_example"], *TOKENS["other_responses"]]
KEY = "PUBLICKEYw5Lq0Ns2vXk8mR7tB4zYd1Hj6Fa9Ce3GuQpW2xZ"
CREDENTIALS = Credentials(key=KEY, secret=VECTOR["inputs"]["secret"])

secrets = st.binary(min_size=64, max_size=64).map(lambda raw: base64.b64encode(raw).decode())
paths = st.text(min_size=1).map(lambda name: f"/0/private/{name}")
nonces = st.integers(0, 2**64 - 1)
bodies = st.text()


def test_the_documented_signing_vector() -> None:
    inputs = VECTOR["inputs"]
    signature = api_sign(CREDENTIALS, inputs["uri_path"], int(inputs["nonce"]), inputs["post_data"])
    assert signature == VECTOR["expected_api_sign"]


@given(secret=secrets, path=paths, nonce=nonces, body=bodies, data=st.data())
def test_the_signature_changes_with_every_input(secret: str, path: str, nonce: int, body: str, data: Any) -> None:
    inputs: dict[str, Any] = {"secret": secret, "path": path, "nonce": nonce, "body": body}
    strategies: dict[str, st.SearchStrategy[Any]] = {"secret": secrets, "path": paths, "nonce": nonces, "body": bodies}

    def sign(values: dict[str, Any]) -> str:
        credentials = Credentials(key=KEY, secret=values["secret"])
        return api_sign(credentials, values["path"], values["nonce"], values["body"])

    changed = data.draw(st.sampled_from(sorted(inputs)))
    other = data.draw(strategies[changed].filter(lambda value: value != inputs[changed]))
    assert sign({**inputs, changed: other}) != sign(inputs)


def test_the_token_request_is_signed_over_the_body_it_sends() -> None:
    request = token_request(CREDENTIALS, 1616492376594)
    headers = dict(request.headers)
    assert request.method == "POST"
    assert request.url == f"{DEFAULT_REST_URL}/0/private/GetWebSocketsToken"
    assert request.body == b"nonce=1616492376594"
    assert headers["API-Key"] == KEY
    assert headers["API-Sign"] == api_sign(CREDENTIALS, TOKEN_PATH, 1616492376594, "nonce=1616492376594")
    assert headers["Content-Type"] == "application/x-www-form-urlencoded; charset=utf-8"
    assert headers["User-Agent"].startswith("xfeeds/")


@pytest.mark.parametrize("rest_url", ["http://127.0.0.1:8123", "http://127.0.0.1:8123/"])
def test_the_token_request_goes_to_the_rest_url_given(rest_url: str) -> None:
    assert token_request(CREDENTIALS, 1, rest_url).url == "http://127.0.0.1:8123/0/private/GetWebSocketsToken"


@given(st.lists(st.integers(0, 2**63), min_size=1))
def test_nonces_strictly_increase_whatever_the_clock_does(clock: list[int]) -> None:
    source = NonceSource()
    issued = [source.next_nonce(now) for now in clock]
    assert all(earlier < later for earlier, later in itertools.pairwise(issued))
    assert all(nonce >= now for nonce, now in zip(issued, clock, strict=True))


@pytest.mark.parametrize("reply", TOKEN_REPLIES, ids=lambda reply: reply["source"].split()[0])
def test_captured_token_replies_are_read(reply: dict[str, str]) -> None:
    expected = json.loads(reply["raw"])["result"]
    token = parse_token_reply(reply["raw"].encode())
    assert token.token.reveal() == expected["token"]
    assert token.expires == expected["expires"] == 900
    assert expected["token"] not in f"{token!r} {token} {dataclasses.asdict(token)}"


def test_the_escaped_slash_in_a_token_is_decoded() -> None:
    token = parse_token_reply(TOKENS["other_responses"][0]["raw"])
    assert token.token.reveal() == "xeAQ/RCChBYNVh53sTv1yZ5H4wIbwDF20PiHtTF+4UI"


def test_warnings_do_not_fail_a_reply_with_a_token() -> None:
    reply = '{"error":["WGeneral:Unknown warning"],"result":{"token":"abc","expires":900}}'
    assert parse_token_reply(reply).token.reveal() == "abc"


@pytest.mark.parametrize("reply", TOKENS["error_responses"], ids=lambda reply: reply["meaning"])
def test_captured_error_replies_name_the_venue_error(reply: dict[str, str]) -> None:
    (text,) = json.loads(reply["raw"])["error"]
    with pytest.raises(TokenRequestFailed, match=text) as caught:
        parse_token_reply(reply["raw"])
    assert caught.value.errors == (text,)


@pytest.mark.parametrize(
    "texts",
    [
        ["EAPI:Invalid nonce"],
        ["EAPI:Invalid signature"],
        ["EAPI:Rate limit exceeded"],
        ["EGeneral:Temporary lockout"],
        ["EGeneral:Permission denied", "WGeneral:Unknown warning"],
    ],
)
def test_documented_error_texts_are_reported_even_beside_a_result(texts: list[str]) -> None:
    reply = json.dumps({"error": texts, "result": {"token": "QJFpl0/Kd0DaTbZnGE7L2agfYZS2k1aqgB7TD2btgww", "expires": 900}})
    with pytest.raises(TokenRequestFailed, match="Kraken refused the token request") as caught:
        parse_token_reply(reply)
    assert caught.value.errors == (texts[0],)
    assert texts[0] in str(caught.value)
    assert "QJFpl0" not in str(caught.value)


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        ('{"error":[]}', "holds no token"),
        ('{"error":[],"result":{"token":"","expires":900}}', "holds no token"),
        ('{"error":[],"result":{"token":"SECRETTOKEN0/abc"}}', "unreadable"),
        ('{"error":[],"result":{"token":"SECRETTOKEN0/abc","expires":"soon"}}', "unreadable"),
        ('{"error":[],"result":{"token":"SECRETTOKEN0/abc","expires":900', "unreadable"),
        ("<html>502 Bad Gateway</html>", "unreadable"),
    ],
)
def test_a_reply_without_a_token_fails_without_quoting_it(reply: str, reason: str) -> None:
    with pytest.raises(TokenRequestFailed, match=reason) as caught:
        parse_token_reply(reply)
    assert caught.value.errors == ()
    assert caught.value.__cause__ is None
    assert "SECRETTOKEN" not in f"{caught.value!r} {caught.value}"


def test_no_form_of_a_request_or_token_shows_the_secrets() -> None:
    request = token_request(CREDENTIALS, 1616492376594)
    token = parse_token_reply(TOKEN_REPLIES[0]["raw"])
    token_text = token.token.reveal()
    texts = [repr(request), str(request), repr(token), str(token), repr(dataclasses.asdict(token))]
    with pytest.raises(TypeError) as unencodable:
        msgspec.json.encode(token)
    texts.append(str(unencodable.value))
    for text in texts:
        assert VECTOR["inputs"]["secret"] not in text
        assert KEY[:5] not in text
        assert dict(request.headers)["API-Sign"] not in text
        assert token_text not in text


def test_a_secret_that_is_not_base64_is_refused_without_quoting_it() -> None:
    credentials = Credentials(key=KEY, secret="not base64 at all!")
    with pytest.raises(ValueError, match="not valid base64") as caught:
        token_request(credentials, 1)
    assert "not base64 at all" not in str(caught.value)
    assert caught.value.__cause__ is None
