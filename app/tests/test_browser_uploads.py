"""A real browser against the compose stack: log in, upload through the form, watch the worker
process the file, and see the page's error for a file whose content is not what it claims.

Debian's chromium, driven by Selenium through Debian's chromium-driver (Playwright's own browser
download cannot reach its CDN here). The stack requires a login, as every deployed stage does.
"""

import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hangar.testing.containers import Compose
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from documents.storage_keys import MAX_NAME_LENGTH

pytestmark = pytest.mark.e2e


def find_browser() -> tuple[str | None, str | None]:
    """Debian's chromium and chromium-driver (what .ci/run installs); on GitHub's Ubuntu runners,
    the preinstalled Google Chrome and its matching driver (in $CHROMEWEBDRIVER)."""
    browser = shutil.which("chromium") or shutil.which("google-chrome")
    driver_dir = os.environ.get("CHROMEWEBDRIVER", "")
    driver = shutil.which("chromedriver") or shutil.which("chromedriver", path=driver_dir)
    return browser, driver


# Flags that let chromium run headless as root in a container-like machine, and keep it from
# calling home (no network beyond the test's own server).
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1024,768",
)
# The start of a Windows executable: what the issue saw accepted as a PDF.
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 240


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    binary, driver_path = find_browser()
    if binary is None or driver_path is None:
        reason = "no chromium and chromedriver on PATH: apt-get install chromium chromium-driver"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    driver = webdriver.Chrome(options=options, service=Service(driver_path))
    driver.set_page_load_timeout(60)
    # Elements of a page still loading are waited for, not reported missing.
    driver.implicitly_wait(10)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def web(stack: Compose) -> str:
    return f"http://127.0.0.1:{stack.ports['WEB_PORT']}"


@pytest.fixture(scope="module")
def logged_in(browser: WebDriver, web: str, dev_user: tuple[str, str]) -> WebDriver:
    browser.get(f"{web}/documents/")
    # Anonymous: the upload page sends the browser to Django's login page first.
    assert browser.current_url == f"{web}/accounts/login/?next=/documents/"
    username, password = dev_user
    browser.find_element(By.NAME, "username").send_keys(username)
    browser.find_element(By.NAME, "password").send_keys(password)
    button = browser.find_element(By.CSS_SELECTOR, "form button[type=submit]")
    button.click()
    WebDriverWait(browser, 60).until(gone(button))
    assert browser.current_url == f"{web}/documents/"
    assert f"Signed in as {username}" in browser.find_element(By.TAG_NAME, "header").text
    return browser


def gone(element: WebElement) -> Callable[[WebDriver], bool]:
    """Selenium's staleness_of, plus the error Chromium gives instead of "stale" when it is asked
    about the element while the new document replaces the old one (seen under load)."""

    def replaced(_: WebDriver) -> bool:
        try:
            element.is_enabled()
        except StaleElementReferenceException:
            return True
        except WebDriverException as error:
            if "does not belong to the document" in str(error):
                return True
            raise
        return False

    return replaced


def upload(browser: WebDriver, path: Path) -> None:
    browser.find_element(By.CSS_SELECTOR, "input[type=file]").send_keys(str(path))
    button = browser.find_element(By.CSS_SELECTOR, "form[enctype] button[type=submit]")
    button.click()
    # The answer replaces the page (same URL either way): wait until the old one is gone.
    WebDriverWait(browser, 60).until(gone(button))


def row_status(browser: WebDriver, name: str) -> str:
    for row in browser.find_elements(By.CSS_SELECTOR, "tbody tr"):
        cells = row.find_elements(By.TAG_NAME, "td")
        if cells and cells[0].text == name:
            return cells[1].text
    return ""


def test_uploaded_file_is_processed_by_the_worker(
    logged_in: WebDriver, web: str, tmp_path: Path, stack: Compose
) -> None:
    path = tmp_path / f"browser-{uuid.uuid4().hex[:8]}.txt"
    path.write_text("uploaded from chromium\n")

    upload(logged_in, path)

    assert logged_in.current_url == f"{web}/documents/"
    message = logged_in.find_element(By.CSS_SELECTOR, "p.success").text
    assert message == f"Uploaded {path.name}; processing has been queued."
    deadline = time.monotonic() + 90
    while (status := row_status(logged_in, path.name)) != "Processed":
        assert status in {"Pending", "Processing"}, f"{path.name}: {status!r}\n{stack.logs()}"
        assert time.monotonic() < deadline, f"not processed after 90 s\n{stack.logs()}"
        time.sleep(1)
        logged_in.refresh()


def test_executable_named_pdf_is_refused_with_the_reason(
    logged_in: WebDriver, tmp_path: Path
) -> None:
    path = tmp_path / "invoice.pdf"
    path.write_bytes(EXE)

    upload(logged_in, path)

    error = logged_in.find_element(By.CSS_SELECTOR, "p.error[role=alert]").text
    assert error == (
        "invoice.pdf was not stored. "
        "The content is application/x-msdownload, not the declared application/pdf."
    )
    assert row_status(logged_in, "invoice.pdf") == ""


def test_longest_allowed_name_wraps_instead_of_widening_the_page(
    logged_in: WebDriver, web: str, tmp_path: Path
) -> None:
    name = "long-" + uuid.uuid4().hex + "n" * (MAX_NAME_LENGTH - 41) + ".txt"
    assert len(name) == MAX_NAME_LENGTH
    path = tmp_path / name
    path.write_text("a file with a long name\n")

    upload(logged_in, path)
    logged_in.get(f"{web}/documents/")

    assert row_status(logged_in, name).startswith(("Pending", "Processing", "Processed"))
    overflow = logged_in.execute_script(
        "const root = document.documentElement; return root.scrollWidth - root.clientWidth;"
    )
    assert overflow == 0, f"the page is {overflow}px wider than the window"


def test_name_over_the_limit_is_refused(logged_in: WebDriver, tmp_path: Path) -> None:
    path = tmp_path / ("n" * (MAX_NAME_LENGTH - 3) + ".txt")
    path.write_text("too long a name\n")

    upload(logged_in, path)

    error = logged_in.find_element(By.CSS_SELECTOR, "p.error[role=alert]").text
    assert error.startswith(f"File name too long ({MAX_NAME_LENGTH + 1} characters)")
