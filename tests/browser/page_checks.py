"""What is checked on each page the walks show (tests/browser/test_accessibility.py): axe-core's
WCAG 2.2 AA rules, text that skipped translation (in the pseudo-locale), and reflow: at 320 CSS
pixels wide and with text at 200 %, nothing scrolls sideways and nothing is cut off."""

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

from portal.extensions import db
from portal.i18n import PSEUDO_LOCALE, language_tag, text_direction
from tests.browser.conftest import LIVE_APP, save_screenshot
from tests.pseudo_locale import data_strings, untranslated_on_page

AXE_OPTIONS = {
    # wcag22aa is what switches on target-size (2.5.8).
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21aa", "wcag22aa"]},
    "resultTypes": ["violations"],
}
axe = Axe()

# 320 CSS pixels: a 1280-pixel-wide window zoomed to 400% (WCAG 2.2, 1.4.10 Reflow).
NARROW = {"width": 320, "height": 640}
DESKTOP = {"width": 1280, "height": 800}


def describe_violations(violations: list[dict]) -> str:
    """Each rule broken: its id, impact and help, then every offending element's selector."""
    lines = []
    for violation in violations:
        lines.append(f"  {violation['id']} ({violation['impact']}): {violation['help']}")
        lines.append(f"    {violation['helpUrl']}")
        for node in violation["nodes"]:
            lines.append(f"    - {' '.join(map(str, node['target']))}")
            lines.append(f"      {' '.join(node['failureSummary'].split())}")
    return "\n".join(lines)


def axe_problems(page: Page, where: str) -> list[str]:
    violations = axe.run(page, options=AXE_OPTIONS).response["violations"]
    return [f"{where}:\n{describe_violations(violations)}"] if violations else []


def language_problems(page: Page, where: str, locale: str) -> list[str]:
    """The page says which language it is in, and its direction."""
    found = page.evaluate("[document.documentElement.lang, document.documentElement.dir]")
    expected = [language_tag(locale), text_direction(locale)]
    return [] if found == expected else [f"{where}: lang and dir are {found}, not {expected}"]


def error_state_problems(page: Page, name: str, where: str) -> list[str]:
    """A page named as an error state must show its error summary, or it was not checked."""
    if "error" in name and not page.locator(".error-summary").is_visible():
        return [f"{where}: no error summary, so the error state could not be checked"]
    return []


def translation_problems(page: Page, where: str, locale: str) -> list[str]:
    if locale != PSEUDO_LOCALE:
        return []
    with LIVE_APP["app"].app_context():
        data = data_strings(db.session)
        db.session.remove()
    untranslated = untranslated_on_page(page, data)
    return [f"{where}: not translated:\n    " + "\n    ".join(untranslated)] if untranslated else []


HORIZONTAL_OVERFLOW = """() => {
    const root = document.documentElement;
    if (root.scrollWidth <= window.innerWidth) return null;
    const offenders = [...document.querySelectorAll("body *")]
        .filter(element => {
            const box = element.getBoundingClientRect();
            const outside = box.right > window.innerWidth + 0.5 || box.left < -0.5;
            return box.width > 0 && outside;
        })
        .filter(element => !element.closest(".visually-hidden, .skip-link"))
        // A wide data table scrolls inside its own wrapper, not the page (1.4.10 exempts data
        // tables); what overflows in there is not a page overflow.
        .filter(element => !element.parentElement.closest(".table-wrapper"))
        .slice(0, 5)
        .map(element => {
            const box = element.getBoundingClientRect();
            const id = element.id ? "#" + element.id : "";
            const classes = element.className ? "." + [...element.classList].join(".") : "";
            return `${element.tagName.toLowerCase()}${id}${classes} `
                + `[${Math.round(box.left)}..${Math.round(box.right)}]`;
        });
    return {scrollWidth: root.scrollWidth, innerWidth: window.innerWidth, offenders};
}"""

# What is cut off: an element that clips its content (overflow hidden or clip) which is wider or
# taller than its box shows. Visually hidden text is clipped on purpose, and form controls
# scroll their own content (a long search typed into its box).
CLIPPED = """() => [...document.querySelectorAll("body *")]
    .filter(element => !element.closest(".visually-hidden, .skip-link"))
    .filter(element => !element.matches("input, select, textarea"))
    .filter(element => {
        const style = getComputedStyle(element);
        const clipsX = ["hidden", "clip"].includes(style.overflowX);
        const clipsY = ["hidden", "clip"].includes(style.overflowY);
        return (clipsX && element.scrollWidth > element.clientWidth + 1)
            || (clipsY && element.scrollHeight > element.clientHeight + 1)
            || (style.textOverflow === "ellipsis" && element.scrollWidth > element.clientWidth);
    })
    .slice(0, 5)
    .map(element => element.tagName.toLowerCase() + (element.id ? "#" + element.id : "")
        + (element.className ? "." + [...element.classList].join(".") : ""))"""


def text_size(page: Page, percent: int) -> None:
    """The browser's text size setting (not zoom): the default font size, which the stylesheet's
    rem and em sizes follow."""
    session = page.context.new_cdp_session(page)
    sizes = {"standard": 16 * percent // 100, "fixed": 13 * percent // 100}
    session.send("Page.setFontSizes", {"fontSizes": sizes})
    session.detach()


def reflow_problems(page: Page, name: str, locale: str) -> list[str]:
    """WCAG 1.4.10 and 1.4.4: at 320 CSS pixels wide, and at a desktop width with text twice its
    size, nothing scrolls sideways and nothing is cut off. Keeps a screenshot at 320 pixels."""
    problems = []
    page.set_viewport_size(NARROW)
    for found in (page.evaluate(HORIZONTAL_OVERFLOW), page.evaluate(CLIPPED)):
        if found:
            problems.append(f"{name} ({locale}, 320 px, {page.url}): {found}")
    save_screenshot(page, f"{name}-{locale}-320px")
    page.set_viewport_size(DESKTOP)
    text_size(page, 200)
    for found in (page.evaluate(HORIZONTAL_OVERFLOW), page.evaluate(CLIPPED)):
        if found:
            problems.append(f"{name} ({locale}, text 200 %, {page.url}): {found}")
    text_size(page, 100)
    return problems
