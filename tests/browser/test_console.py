"""The operator console (console/) in a real browser against the local API server after `make run`:
sign-in through the app client (SRP, MFA), the demo's executions with the statuses the run reported,
tenant isolation, one execution's outcome, refs and timeline, and the status filter."""

from __future__ import annotations

import uuid
from datetime import timedelta

from selenium.webdriver.chrome.webdriver import WebDriver

from execution_core.models import AttemptStatus, ExternalObjectRef, OutcomeStatus
from local_runtime.demo_users import DemoTenant, create_demo_user, id_token_for
from local_runtime.project import operations_for
from tests.browser.conftest import ConsolePage, ConsoleStack
from tests.support.status_api import Records, _outcome

BACKGROUND = "return getComputedStyle(arguments[0]).backgroundColor"
STORED = "return localStorage.length + sessionStorage.length + document.cookie.length"


def _everything_shown(page: ConsolePage) -> dict[str, str]:
    """Every account the picker offers, and the executions it lists for each."""
    shown: dict[str, str] = {}
    for account_id in page.accounts():
        page.choose_account(account_id)
        rows = page.rows()
        assert not rows.keys() & shown.keys()
        shown |= rows
    return shown


def test_each_demo_user_sees_exactly_their_demo_executions_with_the_run_statuses(
    page: ConsolePage, console_stack: ConsoleStack, demo_tenants: list[DemoTenant]
) -> None:
    everything = console_stack.expected_statuses()
    assert len(everything) == 6
    seen: dict[str, str] = {}
    for tenant in demo_tenants:
        page.sign_in(tenant.user_email, console_stack.set_password(tenant.user_email))
        page.wait_signed_in()
        assert tenant.tenant_id in page.by_id("whoami").text
        assert not page.by_id("signin-form").is_displayed()
        assert not page.by_id("mfa-form").is_displayed()
        assert page.accounts() == sorted(tenant.account_ids)  # GET /accounts, sorted by id
        assert page.driver.execute_script(STORED) == 0  # tokens stay in the page's memory

        shown = _everything_shown(page)

        assert shown == console_stack.expected_statuses(tenant.tenant_id)
        seen |= shown
        page.sign_out()
    assert seen == everything  # the six, each with the status `make run` read through the API
    assert page.console_errors() == []


def test_status_badges_are_coloured_by_status(
    page: ConsolePage, console_stack: ConsoleStack, demo_tenants: list[DemoTenant]
) -> None:
    acme = demo_tenants[0]
    page.sign_in(acme.user_email, console_stack.set_password(acme.user_email))
    page.wait_signed_in()
    colours: dict[str, str] = {}
    for account_id in page.accounts():
        page.choose_account(account_id)
        for badge in page.driver.find_elements("css selector", "#executions-body .status"):
            assert badge.get_attribute("class") == f"status status-{badge.text}"
            colours.setdefault(badge.text, page.driver.execute_script(BACKGROUND, badge))
    assert {"SUCCEEDED", "FAILED"} <= colours.keys()
    assert len(set(colours.values())) == len(colours)  # one colour per status


def test_a_user_of_another_tenant_sees_none_of_them_and_signs_in_with_an_mfa_code(
    page: ConsolePage, console_stack: ConsoleStack
) -> None:
    stack = console_stack.stack
    outputs = stack.outputs()
    pool_id, client_id = outputs["UserPoolId"], outputs["UserPoolClientId"]
    other = DemoTenant(
        tenant_id=f"tenant-{uuid.uuid4().hex[:8]}",
        display_name="Other",
        user_email=f"ops-{uuid.uuid4().hex[:8]}@other.example",
        account_ids=(f"acct-{uuid.uuid4().hex[:8]}",),
    )
    operations_for(stack).configure_tenant(other.tenant_id, list(other.account_ids))
    cognito = stack.client("cognito-idp")
    create_demo_user(cognito, pool_id, other)
    # Prod has MFA on: this user has a verified authenticator, so Cognito asks for a code after SRP.
    id_token_for(cognito, pool_id, client_id, other.user_email)
    tokens = cognito.admin_initiate_auth(
        UserPoolId=pool_id,
        ClientId=client_id,
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={
            "USERNAME": other.user_email,
            "PASSWORD": console_stack.set_password(other.user_email),
        },
    )["AuthenticationResult"]
    cognito.associate_software_token(AccessToken=tokens["AccessToken"])
    cognito.verify_software_token(AccessToken=tokens["AccessToken"], UserCode="123456")
    cognito.admin_set_user_mfa_preference(
        UserPoolId=pool_id,
        Username=other.user_email,
        SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True},
    )

    assert not page.by_id("mfa-form").is_displayed()
    page.sign_in(other.user_email, console_stack.set_password(other.user_email))
    page.wait().until(lambda _: page.by_id("mfa-form").is_displayed())
    assert not page.by_id("signin-form").is_displayed()
    assert not page.by_id("workspace").is_displayed()
    page.by_id("mfa-code").send_keys("123456")
    page.by_id("mfa-submit").click()
    page.wait_signed_in()

    assert page.accounts() == list(other.account_ids)
    assert page.rows() == {}
    assert page.by_id("summary").text.startswith(f"0 executions in {other.account_ids[0]}")
    source = page.driver.page_source
    for intent_id in console_stack.expected_statuses():
        assert intent_id not in source
    page.sign_out()


def test_opening_an_execution_shows_its_outcome_refs_and_timeline(
    page: ConsolePage, console_stack: ConsoleStack, demo_tenants: list[DemoTenant]
) -> None:
    crm = next(r for r in console_stack.demo.results if r.sample.action_type == "CREATE_CRM_TASK")
    tenant = next(t for t in demo_tenants if t.tenant_id == crm.sample.tenant_id)
    status, ledger = (
        console_stack.api(
            tenant, f"/executions/{crm.action_intent_id}/{route}", account_id=crm.sample.account_id
        )
        for route in ("status", "ledger")
    )
    page.sign_in(tenant.user_email, console_stack.set_password(tenant.user_email))
    page.wait_signed_in()
    page.choose_account(crm.sample.account_id)

    page.driver.find_element("css selector", f'tr[data-intent-id="{crm.action_intent_id}"] button').click()
    page.wait().until(lambda _: page.by_id("detail-timeline").find_elements("css selector", "li"))

    assert page.by_id("detail-title").text == crm.action_intent_id
    outcome = page.by_id("detail-outcome")
    shown = {dd.get_attribute("data-field"): dd.text for dd in outcome.find_elements("css selector", "dd")}
    assert shown["status"] == crm.api_status == "SUCCEEDED"
    assert shown == {k: str(v) for k, v in status.items() if k in shown}  # as the API says
    assert {"status", "started_at", "completed_at", "attempt_count"} <= shown.keys()
    refs = page.by_id("detail-refs").find_elements("css selector", "li")
    assert [li.get_attribute("data-object-id") for li in refs] == [
        t.task_id for t in console_stack.demo.crm.tasks
    ]
    assert [li.get_attribute("data-object-id") for li in refs] == [
        r["object_id"] for r in status["external_object_refs"]
    ]
    timeline = page.by_id("detail-timeline").find_elements("css selector", "li")
    assert [li.get_attribute("data-kind") for li in timeline] == [e["kind"] for e in ledger["entries"]]
    assert [li.find_element("css selector", "time").text for li in timeline] == [
        e["at"] for e in ledger["entries"]
    ]
    assert len(timeline) >= 2
    assert page.console_errors() == []


def test_a_failed_execution_shows_its_error(
    page: ConsolePage, console_stack: ConsoleStack, demo_tenants: list[DemoTenant]
) -> None:
    failed = next(r for r in console_stack.demo.results if r.error_class == "AUTH")
    tenant = next(t for t in demo_tenants if t.tenant_id == failed.sample.tenant_id)
    page.sign_in(tenant.user_email, console_stack.set_password(tenant.user_email))
    page.wait_signed_in()
    page.choose_account(failed.sample.account_id)

    page.driver.find_element("css selector", f'tr[data-intent-id="{failed.action_intent_id}"] button').click()
    page.wait().until(
        lambda _: page.by_id("detail-outcome").find_elements("css selector", '[data-field="status"]')
    )

    outcome = page.by_id("detail-outcome")
    assert outcome.find_element("css selector", '[data-field="status"]').text == failed.api_status == "FAILED"
    assert outcome.find_element("css selector", '[data-field="error_class"]').text == "AUTH"


def test_the_status_filter_lists_only_that_status(
    page: ConsolePage, console_stack: ConsoleStack, demo_tenants: list[DemoTenant]
) -> None:
    acme = demo_tenants[0]
    page.sign_in(acme.user_email, console_stack.set_password(acme.user_email))
    page.wait_signed_in()
    expected = console_stack.expected_statuses(acme.tenant_id)
    for status in sorted(set(expected.values())):
        page.choose_status(status)
        shown = _everything_shown(page)
        assert shown == {i: s for i, s in expected.items() if s == status}, status
    page.choose_status("")
    assert _everything_shown(page) == expected


def test_an_unknown_user_gets_a_clear_sign_in_error(page: ConsolePage) -> None:
    page.sign_in(f"nobody-{uuid.uuid4().hex[:8]}@nowhere.example", "whatever-Password-1")
    page.wait().until(lambda _: page.message().startswith("Sign-in failed"))
    assert not page.by_id("workspace").is_displayed()


HOSTILE = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'


def test_text_from_the_api_is_shown_as_text_never_as_markup(
    page: ConsolePage, console_stack: ConsoleStack
) -> None:
    stack = console_stack.stack
    outputs = stack.outputs()
    tenant = DemoTenant(
        tenant_id=f"tenant-{uuid.uuid4().hex[:8]}",
        display_name="Hostile",
        user_email=f"ops-{uuid.uuid4().hex[:8]}@hostile.example",
        account_ids=(f"acct-{uuid.uuid4().hex[:8]}",),
    )
    account_id = tenant.account_ids[0]
    operations_for(stack).configure_tenant(tenant.tenant_id, [account_id])
    create_demo_user(stack.client("cognito-idp"), outputs["UserPoolId"], tenant)
    records = Records(stack)
    intent = records.intent(tenant.tenant_id, account_id)
    outcome = _outcome(
        tenant.tenant_id, account_id, intent.action_intent_id, OutcomeStatus.FAILED, records.base
    ).model_copy(
        update={
            "error_message": HOSTILE,
            "external_object_refs": [
                ExternalObjectRef(
                    system="CRM", object_type="Task", object_id=HOSTILE, object_url="javascript:alert(1)"
                )
            ],
        }
    )
    records.attempt(tenant.tenant_id, account_id, intent.action_intent_id, AttemptStatus.FAILED)  # listed
    assert records.outcomes.put(outcome)  # shown when opened

    page.sign_in(tenant.user_email, console_stack.set_password(tenant.user_email))
    page.wait_signed_in()
    page.driver.find_element("css selector", f'tr[data-intent-id="{intent.action_intent_id}"] button').click()
    page.wait().until(lambda _: page.by_id("detail-refs").find_elements("css selector", "li"))

    outcome_shown = page.by_id("detail-outcome")
    assert outcome_shown.find_element("css selector", '[data-field="error_message"]').text == HOSTILE
    (ref,) = page.by_id("detail-refs").find_elements("css selector", "li")
    assert HOSTILE in ref.text
    assert ref.find_elements("css selector", "a") == []  # a javascript: URL is never a link
    assert page.driver.find_elements("css selector", "#detail img, #detail script") == []
    assert page.driver.execute_script("return window.__xss === undefined") is True


def test_load_more_follows_next_token_to_the_end(page: ConsolePage, console_stack: ConsoleStack) -> None:
    stack = console_stack.stack
    tenant = DemoTenant(
        tenant_id=f"tenant-{uuid.uuid4().hex[:8]}",
        display_name="Busy",
        user_email=f"ops-{uuid.uuid4().hex[:8]}@busy.example",
        account_ids=(f"acct-{uuid.uuid4().hex[:8]}",),
    )
    account_id = tenant.account_ids[0]
    operations_for(stack).configure_tenant(tenant.tenant_id, [account_id])
    create_demo_user(stack.client("cognito-idp"), stack.outputs()["UserPoolId"], tenant)
    records = Records(stack)
    written = set()
    for n in range(57):  # more than one page of 50
        intent = records.intent(tenant.tenant_id, account_id)
        started = records.base - timedelta(minutes=n)
        records.attempt(
            tenant.tenant_id, account_id, intent.action_intent_id, AttemptStatus.SUCCEEDED, started
        )
        written.add(intent.action_intent_id)

    page.sign_in(tenant.user_email, console_stack.set_password(tenant.user_email))
    page.wait_signed_in()
    assert len(page.rows()) == 50
    assert page.by_id("more").is_displayed()
    page.by_id("more").click()
    page.wait().until(lambda _: len(page.rows()) == 57)

    assert set(page.rows()) == written
    assert not page.by_id("more").is_displayed()
    assert page.by_id("summary").text == f"57 executions in {account_id}"


def test_a_challenge_the_console_does_not_handle_is_a_clear_message(
    page: ConsolePage, console_stack: ConsoleStack
) -> None:
    email = f"new-{uuid.uuid4().hex[:8]}@other.example"
    console_stack.stack.client("cognito-idp").admin_create_user(
        UserPoolId=console_stack.stack.outputs()["UserPoolId"],
        Username=email,
        UserAttributes=[{"Name": "email", "Value": email}],
        MessageAction="SUPPRESS",
    )  # still has to choose a password: Cognito answers NEW_PASSWORD_REQUIRED

    page.sign_in(email, "Temporary-password-1")

    page.wait().until(lambda _: "NEW_PASSWORD_REQUIRED" in page.message())
    assert "this console does not handle" in page.message()
    assert not page.by_id("workspace").is_displayed()


def test_the_console_on_another_origin_signs_in_and_reads_the_api_across_origins(
    browser: WebDriver, console_stack: ConsoleStack, demo_tenants: list[DemoTenant]
) -> None:
    """Hosted apart from the API, as next to a deployed stack: the API allows the origin (AllowedOrigins),
    the sign-in calls answer any origin as Cognito's endpoint does."""
    page = ConsolePage(browser, f"{console_stack.static.origin}/index.html").open()
    tenant = demo_tenants[-1]

    page.sign_in(tenant.user_email, console_stack.set_password(tenant.user_email))
    page.wait_signed_in()

    assert _everything_shown(page) == console_stack.expected_statuses(tenant.tenant_id)
    assert page.driver.execute_script("return location.origin") == console_stack.static.origin
    assert console_stack.static.origin != console_stack.server.url
