"""console/srp.js computes the PASSWORD_VERIFIER answer exactly as pycognito (a maintained Python
implementation of Cognito's SRP) does, for fixed inputs. The emulator's Cognito does not check the
signature (moto accepts any), so this comparison is what proves the console's maths."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from pycognito import aws_srp

from tests.browser.conftest import ConsolePage

# Runs srp.js in the page (an ES module of the console) and hands back what it computed.
SRP_IN_THE_PAGE = """
const [inputs, done] = [arguments[0], arguments[arguments.length - 1]];
import("./srp.js").then(async (srp) => {
  const secret = srp.newClientSecret(inputs.a);
  const [y, mo, d, h, mi, s] = inputs.moment;
  const timestamp = srp.cognitoTimestamp(new Date(Date.UTC(y, mo - 1, d, h, mi, s)));
  const signature = await srp.passwordClaimSignature({ ...inputs, secret, timestamp });
  done({ srpA: secret.srpA, signature, timestamp });
}).catch((error) => done({ error: String(error) }));
"""


def _cases() -> Iterator[dict[str, Any]]:
    rng = random.Random(20261202)  # fixed inputs: the same cases on every run
    for n, moment in enumerate([(2026, 12, 2, 1, 11, 40), (2027, 1, 9, 23, 5, 7), (2026, 2, 28, 0, 0, 0)]):
        yield {
            "a": f"{rng.getrandbits(1024):0256x}",
            "srpB": f"{rng.getrandbits(3072):x}",
            # one salt with its first byte's high bit set (padded with 00), one short, one long
            "salt": ["f" + f"{rng.getrandbits(124):031x}", "1a2b", f"{rng.getrandbits(128):x}"][n],
            "secretBlock": "".join(
                rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
                for _ in range(64)
            ),
            "userPoolId": "eu-west-1_Ab3dE" + str(n),
            "userIdForSrp": f"{rng.getrandbits(128):032x}",
            "password": ["Correct-horse-battery-1!", "pässwörd ünïcode Ω 2#", "x" * 99][n],
            "moment": moment,
        }


def _pycognito(case: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    srp = aws_srp.AWSSRP(
        username="user", password=case["password"], pool_id=case["userPoolId"], client_id="c", client=object()
    )
    srp.small_a_value = int(case["a"], 16) % srp.big_n
    srp.large_a_value = srp.calculate_a()
    frozen = dt.datetime(*case["moment"])  # pycognito reads utcnow(): naive UTC
    monkeypatch.setattr(aws_srp, "datetime", SimpleNamespace(datetime=SimpleNamespace(utcnow=lambda: frozen)))
    answer = srp.process_challenge(
        {
            "USERNAME": "user",
            "USER_ID_FOR_SRP": case["userIdForSrp"],
            "SALT": case["salt"],
            "SRP_B": case["srpB"],
            "SECRET_BLOCK": case["secretBlock"],
        },
        {"USERNAME": "user"},
    )
    return {
        "srpA": aws_srp.long_to_hex(srp.large_a_value),
        "signature": answer["PASSWORD_CLAIM_SIGNATURE"],
        "timestamp": answer["TIMESTAMP"],
    }


@pytest.mark.parametrize("case", list(_cases()), ids=["high-bit-salt", "short-salt", "long-password"])
def test_srp_js_signs_the_password_claim_as_pycognito_does(
    case: dict[str, Any], page: ConsolePage, monkeypatch: pytest.MonkeyPatch
) -> None:
    computed = page.driver.execute_async_script(SRP_IN_THE_PAGE, case)
    assert "error" not in computed, computed
    assert computed == _pycognito(case, monkeypatch)


def test_a_different_password_gives_a_different_signature(page: ConsolePage) -> None:
    case = next(_cases())
    first = page.driver.execute_async_script(SRP_IN_THE_PAGE, case)
    second = page.driver.execute_async_script(SRP_IN_THE_PAGE, {**case, "password": case["password"] + "x"})
    assert first["srpA"] == second["srpA"]
    assert first["signature"] != second["signature"]
