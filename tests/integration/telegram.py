"""A fake Telegram Bot API on 127.0.0.1: it records every sendMessage and answers as Telegram
does — 200 with the message, or what a test scripts next (429 with retry_after, a 5xx, 401)."""
from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.integration.harness import wait_until

PATH = re.compile(r"/bot(?P<token>[^/]+)/sendMessage")


@dataclass(frozen=True)
class Received:
    at: float                # time.monotonic()
    token: str
    chat_id: str
    text: str
    answered: int            # the status it got


class FakeTelegram:
    def __init__(self):
        self.received: list[Received] = []
        self.script: list[tuple[int, dict]] = []      # the next answers, in order
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):   # noqa: N802 - the http.server name
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                match = PATH.fullmatch(self.path)
                with fake._lock:
                    status, answer = fake.script.pop(0) if fake.script else (200, None)
                    if match is None:
                        status, answer = 404, {"ok": False, "error_code": 404,
                                               "description": "Not Found"}
                    fake.received.append(Received(time.monotonic(),
                                                  match["token"] if match else "",
                                                  str(body.get("chat_id")), body.get("text", ""),
                                                  status))
                    if answer is None:
                        answer = {"ok": True, "result": {"message_id": len(fake.received),
                                                         "text": body.get("text")}}
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):   # the URL holds the bot token: not on stderr
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer_next(self, *answers: tuple[int, dict]) -> None:
        with self._lock:
            self.script.extend(answers)

    @staticmethod
    def too_many(retry_after: int) -> tuple[int, dict]:
        return 429, {"ok": False, "error_code": 429, "parameters": {"retry_after": retry_after},
                     "description": f"Too Many Requests: retry after {retry_after}"}

    def messages(self, chat_id: str, ok_only: bool = True) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.chat_id == chat_id and
                    (r.answered == 200 or not ok_only)]

    def wait_for(self, chat_id: str, contains: str, timeout_s: float = 30) -> Received:
        return wait_until(lambda: next((r for r in self.messages(chat_id) if contains in r.text),
                                       None), timeout_s, f"a Telegram message with {contains!r}")

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
