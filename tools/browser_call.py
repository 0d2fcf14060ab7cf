#!/usr/bin/env python3
"""Places a call from headless Chromium through the worker's web page and prints what the page
showed, as one JSON object on stdout.

    tools/browser_call.py 'http://127.0.0.1:8080/?autostart=1&tenant=contoso' --audio caller.wav

Chromium (Debian `chromium`) plays AUDIO as its microphone (a 16-bit PCM WAV; Chromium loops
it), grants the microphone without asking, and loads URL. The page's state is read through
the DevTools protocol (`websockets`, from PyPI) from the elements a person would read:
#status, #transcript, #intent, #prompts and #decision. The script waits until the page says the
call has ended (or, with `--until decision`, until it shows a decision), or fails after
`--timeout` seconds.

Exit codes: 0 the call got that far, 1 timeout or page error (the JSON still tells the state),
2 Chromium or the DevTools connection is missing.
"""

import argparse
import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

try:
    from websockets.sync.client import connect
except ImportError:  # reported by main(), with the package to install
    connect = None

# What a person reads on the page, as data: the text of each element and its data attributes.
STATE_JS = r"""
(() => {
  const el = (id) => document.getElementById(id);
  if (!el("status")) return JSON.stringify({ loaded: false });
  const lines = (id) => [...el(id).querySelectorAll("p")].map((p) => ({ text: p.textContent, final: p.classList.contains("final") }));
  return JSON.stringify({
    loaded: true,
    status: el("status").textContent,
    state: el("status").dataset.state,
    transcript: lines("transcript"),
    intent: Object.assign({ text: el("intent").textContent }, el("intent").dataset),
    prompts: lines("prompts").map((l) => l.text),
    decision: Object.assign({ text: el("decision").textContent }, el("decision").dataset),
  });
})()
"""

# Switched off: everything that would reach out to the network or wait for a person.
QUIET = [
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-domain-reliability",
    "--disable-breakpad",
    "--metrics-recording-only",
    "--disable-features=MediaRouter,OptimizationHints,Translate,DialMediaRouteProvider",
    "--password-store=basic",
    "--use-mock-keychain",
]


def chromium_path(given):
    for candidate in [given, os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"]:
        if candidate and shutil.which(candidate):
            return shutil.which(candidate)
    return None


def devtools_port(profile, proc, deadline):
    # Chromium writes the port it picked to DevToolsActivePort in its profile.
    path = os.path.join(profile, "DevToolsActivePort")
    while time.time() < deadline:
        if proc.poll() is not None:
            return None
        try:
            with open(path) as f:
                return int(f.readline().strip())
        except (OSError, ValueError):
            time.sleep(0.1)
    return None


def page_socket_url(port, deadline):
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as r:
                for target in json.load(r):
                    if target.get("type") == "page" and target.get("webSocketDebuggerUrl"):
                        return target["webSocketDebuggerUrl"]
        except OSError:
            pass
        time.sleep(0.2)
    return None


class Cdp:
    """A DevTools protocol session on one page: commands in order, console messages kept."""

    def __init__(self, ws):
        self.ws = ws
        self.next_id = 0
        self.console = []

    def call(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv(timeout=30))
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            if message.get("method") == "Runtime.consoleAPICalled":
                args = message["params"].get("args", [])
                text = " ".join(str(a.get("value", a.get("description", ""))) for a in args)
                self.console.append(f"{message['params'].get('type')}: {text}")
            elif message.get("method") == "Runtime.exceptionThrown":
                details = message["params"].get("exceptionDetails", {})
                self.console.append(f"exception: {details.get('exception', {}).get('description', details.get('text'))}")

    def state(self):
        result = self.call("Runtime.evaluate", expression=STATE_JS, returnByValue=True)
        return json.loads(result.get("result", {}).get("value") or "{}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url")
    parser.add_argument("--audio", required=True, help="16-bit PCM WAV played as the microphone (looped)")
    parser.add_argument("--until", choices=["ended", "decision"], default="ended")
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--chromium", help="the browser (default: chromium on PATH, or $CHROMIUM)")
    parser.add_argument("--screenshot", help="PNG of the page when done")
    args = parser.parse_args()

    browser = chromium_path(args.chromium)
    if browser is None:
        print("browser_call: chromium not found (Debian package `chromium`; tools/test.sh installs it)", file=sys.stderr)
        return 2
    if connect is None:
        print("browser_call: the DevTools client needs websockets (pip install websockets)", file=sys.stderr)
        return 2
    if not os.path.isfile(args.audio):
        print(f"browser_call: no audio file {args.audio}", file=sys.stderr)
        return 2
    profile = tempfile.mkdtemp(prefix="attendant-chromium-")
    command = [
        browser,
        "--headless=new",
        "--no-sandbox",
        f"--user-data-dir={profile}",
        "--remote-debugging-port=0",
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={os.path.abspath(args.audio)}",
        "--autoplay-policy=no-user-gesture-required",
        # Loopback candidates too: the worker under test listens on 127.0.0.1.
        "--allow-loopback-in-peer-connection",
        *QUIET,
        args.url,
    ]
    log = open(os.path.join(profile, "chromium.log"), "w")
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.time() + args.timeout
    state, console, code = {}, [], 1
    try:
        port = devtools_port(profile, proc, time.time() + 30)
        ws_url = port and page_socket_url(port, time.time() + 30)
        if not ws_url:
            log.flush()
            with open(os.path.join(profile, "chromium.log")) as f:
                tail = f.read()[-3000:]
            print(f"browser_call: no DevTools page from {browser}:\n{tail}", file=sys.stderr)
            return 2
        with connect(ws_url, max_size=None, open_timeout=10) as ws:
            cdp = Cdp(ws)
            cdp.call("Runtime.enable")
            while time.time() < deadline:
                state = cdp.state()
                if state.get("state") == "error":
                    break
                if args.until == "decision" and state.get("decision", {}).get("intent"):
                    code = 0
                    break
                if state.get("state") == "ended":
                    code = 0
                    break
                time.sleep(0.25)
            if args.screenshot:
                shot = cdp.call("Page.captureScreenshot", format="png")
                with open(args.screenshot, "wb") as f:
                    f.write(base64.b64decode(shot["data"]))
            console = cdp.console
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
        shutil.rmtree(profile, ignore_errors=True)
    state["console"] = console
    state["timed_out"] = code != 0 and state.get("state") != "error"
    print(json.dumps(state))
    return code


if __name__ == "__main__":
    sys.exit(main())
