"""Browser fixtures: the system's headless Chromium driven by Selenium, and a local stack after `make run`.

The browser is Debian's ``chromium`` with its ``chromedriver`` (``.ci/run`` installs both; nothing is
downloaded). Without them these tests cannot run: in CI (``CI=true``) that is a failure, elsewhere a skip
whose reason ``make test`` prints.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.ui import WebDriverWait

from local_runtime.api_server import LocalApiServer
from local_runtime.console_site import CONSOLE_DIR, console_config
from local_runtime.demo import DemoRun, run_samples
from local_runtime.demo_users import DemoTenant, id_token_for, load_demo_tenants
from local_runtime.emulator import LocalEmulator, LocalStack
from local_runtime.project import deploy_project

CHROMIUM = os.environ.get("CONSOLE_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CONSOLE_TEST_CHROMEDRIVER", "/usr/bin/chromedriver")
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,1000",
)
WAIT = 30.0
PASSWORD = "Console-test-" + uuid.uuid4().hex[:12] + "!A1"


def _missing_browser() -> str | None:
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not (Path(path).is_file() or shutil.which(path))]
    if not missing:
        return None
    return (
        f"the console's browser tests need Debian's chromium and chromium-driver ({', '.join(missing)} "
        "not found): apt-get install chromium chromium-driver (.ci/run does)"
    )


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    reason = _missing_browser()
    if reason is not None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI must run the browser tests: {reason}")
        pytest.skip(reason)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in CHROMIUM_ARGS:
        options.add_argument(argument)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_script_timeout(WAIT)
    try:
        yield driver
    finally:
        driver.quit()


class StaticHost:
    """console/ on an origin of its own, as a static host next to a deployed stack would serve it, with
    the config.json the README makes from the stack's outputs."""

    def __init__(self) -> None:
        self.config: dict[str, str] = {}
        host = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                name = self.path.split("?", 1)[0].lstrip("/") or "index.html"
                if name == "config.json":
                    status, body = 200, json.dumps(host.config).encode()
                elif "/" not in name and (CONSOLE_DIR / name).is_file():
                    status, body = 200, (CONSOLE_DIR / name).read_bytes()
                else:
                    status, body = 404, b"Not Found"
                types = {".js": "text/javascript", ".css": "text/css", ".json": "application/json"}
                self.send_response(status)
                self.send_header("Content-Type", types.get(Path(name).suffix, "text/html"))
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@dataclass
class ConsoleStack:
    """A stack of its own after the demo run, served with the console (and hosted on another origin)."""

    stack: LocalStack
    server: LocalApiServer
    demo: DemoRun
    static: StaticHost

    @property
    def console_url(self) -> str:
        return f"{self.server.url}/console/"

    def set_password(self, username: str, password: str = PASSWORD) -> str:
        self.stack.client("cognito-idp").admin_set_user_password(
            UserPoolId=self.stack.outputs()["UserPoolId"],
            Username=username,
            Password=password,
            Permanent=True,
        )
        return password

    def api(self, tenant: DemoTenant, path: str, **query: str) -> dict[str, Any]:
        """What the status API answers the tenant's user (its own ID token), to compare the page with."""
        outputs = self.stack.outputs()
        token = id_token_for(
            self.stack.client("cognito-idp"),
            outputs["UserPoolId"],
            outputs["UserPoolClientId"],
            tenant.user_email,
        )
        reply = requests.get(
            self.server.url + path, params=query, headers={"Authorization": token}, timeout=30
        )
        assert reply.status_code == 200, reply.text
        return dict(reply.json())

    def expected_statuses(self, tenant_id: str | None = None) -> dict[str, str]:
        """intent id → the status `make run` read through the API, for one tenant's samples (or all)."""
        return {
            r.action_intent_id: str(r.api_status)
            for r in self.demo.results
            if tenant_id is None or r.sample.tenant_id == tenant_id
        }


@pytest.fixture(scope="session")
def console_stack(local_emulator: LocalEmulator) -> Iterator[ConsoleStack]:
    """A stack of its own, so that only the demo's executions are in the demo accounts."""
    static = StaticHost()
    # The console's other origin is allowed, as a deployed stack's AllowedOrigins must list its host.
    stack = deploy_project(
        local_emulator, stack_name="bel-console", parameters={"AllowedOrigins": static.origin}
    )
    out = io.StringIO()
    demo = run_samples(stack, out)
    assert all(r.as_expected for r in demo.results), out.getvalue()
    try:
        with LocalApiServer(stack) as server:
            static.config = console_config(stack, server.url)
            yield ConsoleStack(stack, server, demo, static)
    finally:
        static.stop()


@pytest.fixture(scope="session")
def demo_tenants() -> list[DemoTenant]:
    return load_demo_tenants()


@dataclass
class ConsolePage:
    """The console as a user sees it, through the browser."""

    driver: WebDriver
    url: str

    def wait(self, timeout: float = WAIT) -> WebDriverWait[WebDriver]:
        return WebDriverWait(self.driver, timeout)

    def by_id(self, element_id: str) -> WebElement:
        return self.driver.find_element("id", element_id)

    def open(self) -> ConsolePage:
        self.driver.get(self.url)
        self.wait().until(lambda d: d.find_element("tag name", "body").get_attribute("data-ready") == "true")
        return self

    def sign_in(self, username: str, password: str) -> None:
        self.wait().until(ec.visibility_of_element_located(("id", "signin-form")))
        self.by_id("username").clear()
        self.by_id("username").send_keys(username)
        self.by_id("password").send_keys(password)
        self.by_id("signin").click()

    def wait_signed_in(self) -> None:
        self.wait().until(ec.visibility_of_element_located(("id", "workspace")))
        self.wait_loaded()

    def wait_loaded(self) -> None:
        """Until the table shows the chosen account and status (the page marks what it loaded)."""

        def loaded(_: WebDriver) -> bool:
            account, status = (self.by_id(i).get_attribute("value") for i in ("account", "status-filter"))
            wanted = f"{account}|{status}"
            return self.by_id("summary").get_attribute("data-loaded") == wanted

        self.wait().until(loaded)

    def message(self) -> str:
        element = self.by_id("message")
        return element.text if element.is_displayed() else ""

    def accounts(self) -> list[str]:
        return [o.get_attribute("value") or "" for o in Select(self.by_id("account")).options]

    def choose_account(self, account_id: str) -> None:
        Select(self.by_id("account")).select_by_value(account_id)
        self.wait_loaded()

    def choose_status(self, status: str) -> None:
        Select(self.by_id("status-filter")).select_by_value(status)
        self.wait_loaded()

    def rows(self) -> dict[str, str]:
        """intent id → status, as the table shows them (its badge's text)."""
        shown = {}
        for row in self.driver.find_elements("css selector", "#executions-body tr"):
            badge = row.find_element("css selector", ".status")
            shown[row.get_attribute("data-intent-id") or ""] = badge.text
        return shown

    def sign_out(self) -> None:
        self.by_id("signout").click()
        self.wait().until(ec.visibility_of_element_located(("id", "signin-form")))

    def console_errors(self) -> list[str]:
        """Script errors and CSP violations (not HTTP error answers, which the page handles)."""
        entries = self.driver.get_log("browser")  # type: ignore[no-untyped-call]
        return [e["message"] for e in entries if e.get("level") == "SEVERE" and e.get("source") != "network"]


@pytest.fixture
def page(browser: WebDriver, console_stack: ConsoleStack) -> ConsolePage:
    browser.get_log("browser")  # type: ignore[no-untyped-call]  # drop what earlier tests left
    return ConsolePage(browser, console_stack.console_url).open()
