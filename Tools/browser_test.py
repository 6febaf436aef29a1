#!/usr/bin/env python3
"""The explorer in a real browser: Debian's chromium driven by selenium through Debian's
chromedriver (/usr/bin/chromedriver; nothing is downloaded). Loads the page, moves a direction
slider and waits for the image to change, keeps two latents (the second from the seed box),
shows and exports a walk, projects a PNG that mnist drew through the photo input and waits
for the image to change, and checks that
`forger render` of the exported recipe gives the exported GIF's bytes; reloading the page's
URL must restore the same view.

    python3 Tools/browser_test.py --forger .build/debug/forger [--screenshot docs/gallery/explorer.png]
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("SE_OFFLINE", "true")     # Selenium Manager must not fetch drivers
from selenium import webdriver                   # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By      # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_common import start_server, stop      # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--forger", default=".build/debug/forger")
    p.add_argument("--model", default="faces64")
    p.add_argument("--screenshot")
    p.add_argument("--chromium", default="/usr/bin/chromium")
    p.add_argument("--driver", default="/usr/bin/chromedriver")
    a = p.parse_args()
    started = time.time()
    work = tempfile.mkdtemp(prefix="forger-browser-")
    exports = os.path.join(work, "exports")
    proc, base = start_server(a.forger, ["Models/mnist", "Models/faces64"], exports=exports)
    options = webdriver.ChromeOptions()
    options.binary_location = a.chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1200,760"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=a.driver), options=options)
    wait = WebDriverWait(driver, 60, poll_frequency=0.05)
    try:
        def renders():
            return int(driver.find_element(By.ID, "image").get_attribute("data-renders") or 0)

        def rendered_after(n):
            wait.until(lambda d: renders() > n and not d.execute_script("return inFlight || dirty"))
            return driver.find_element(By.ID, "image").get_attribute("data-url")

        driver.get(f"{base}/#model={a.model}&seed=3")
        first = rendered_after(0)
        check("the page rendered seed 3", "latent=" in first)

        # Drag the first direction slider to the right, as a person would.
        slider = driver.find_element(By.ID, "dir-0")
        n = renders()
        t0 = time.time()
        ActionChains(driver).click_and_hold(slider).move_by_offset(40, 0).release().perform()
        moved = rendered_after(n)
        check(f"moving a direction slider changed the image ({(time.time() - t0) * 1000:.0f} ms)", moved != first)
        value = float(slider.get_attribute("value"))
        check(f"the slider moved off 0 (now {value})", value != 0)
        check("the URL holds the slider value", "d=0%3A" in driver.current_url or "d=0:" in driver.current_url)

        # Reloading the URL restores the same latent.
        url = driver.current_url
        driver.get("about:blank")
        driver.get(url)
        check("reloading the URL restores the view", rendered_after(0) == moved)

        driver.find_element(By.ID, "keep").click()
        n = renders()
        # The seed box: a new seed (Enter commits it) draws a new base latent.
        box = driver.find_element(By.ID, "seed")
        box.clear()
        box.send_keys("11\n")
        rendered_after(n)
        check("the seed box drew seed 11", "seed=11" in driver.current_url)
        driver.find_element(By.ID, "keep").click()
        kept = len(driver.find_elements(By.CSS_SELECTOR, "#bookmarks figure"))
        check(f"two latents kept ({kept})", kept == 2)

        driver.find_element(By.ID, "walk").click()
        wait.until(lambda d: d.execute_script("const i = document.getElementById('walk-image'); return !i.hidden && i.complete && i.naturalWidth > 0"))
        driver.find_element(By.ID, "export-gif").click()
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#exports li")) == 1)
        names = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#exports li a")]
        gif = names[0]
        check(f"the walk was exported as {gif} with its recipe", gif.startswith("walk-") and gif.endswith(".gif") and names[1] == "recipe")
        if a.screenshot:
            driver.set_window_size(1200, 880)   # the window, not the viewport
            time.sleep(0.5)
            driver.save_screenshot(a.screenshot)
            print(f"screenshot: {a.screenshot}")
        # Projection: a picture mnist drew (seed 7, forger sample --each: no padding) chosen in
        # the photo input becomes the base.
        each = os.path.join(work, "each")
        subprocess.run([a.forger, "sample", "Models/mnist", "-n", "1", "--seed", "7", "--each", each,
                        "-o", os.path.join(work, "grid.png"), "-q"], check=True)
        photo = os.path.join(each, "seed-7.png")
        Select(driver.find_element(By.ID, "model")).select_by_value("mnist")
        wait.until(lambda d: "model=mnist" in (d.find_element(By.ID, "image").get_attribute("data-url") or "")
                   and not d.execute_script("return inFlight || dirty"))
        before, n = driver.find_element(By.ID, "image").get_attribute("data-url"), renders()
        t0 = time.time()
        driver.find_element(By.ID, "photo").send_keys(photo)
        wait.until(lambda d: "projected" in d.find_element(By.ID, "status").text)
        projected = rendered_after(n)
        said = driver.find_element(By.ID, "status").text
        check(f"projecting a photo changed the image ({said}; {time.time() - t0:.1f} s)",
              projected != before and "z=" in driver.current_url)
        psnr = float(re.search(r"PSNR ([0-9.]+) dB", said).group(1))
        check(f"the projection drew the photo back ({psnr} dB > 25 dB)", psnr > 25)
        logs = [l for l in driver.get_log("browser") if l["level"] == "SEVERE"]
        check(f"no errors in the browser console {logs if logs else ''}", not logs)
    finally:
        driver.quit()
        stop(proc)

    recipe = os.path.join(exports, gif + ".recipe.json")
    redrawn = os.path.join(work, "redrawn.gif")
    subprocess.run([a.forger, "render", recipe, "-o", redrawn, "-q"], check=True)
    with open(os.path.join(exports, gif), "rb") as f1, open(redrawn, "rb") as f2:
        check("forger render of the exported recipe gives the same bytes", f1.read() == f2.read())
    print(f"browser test passed in {time.time() - started:.1f} s")


def check(what, ok):
    print(("ok    " if ok else "FAIL  ") + what, flush=True)
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
