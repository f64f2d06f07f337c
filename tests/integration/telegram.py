"""A fake Telegram Bot API on 127.0.0.1: it records every sendMessage and answers as Telegram
does — 200 with the message, or what a test scripts next (429 with retry_after, a 5xx, 401);
and it holds the messages a test has a chat send to a bot, for getUpdates (long polling, with
offsets that confirm what was read, as Telegram's)."""
from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.integration.harness import wait_until

PATH = re.compile(r"/bot(?P<token>[^/]+)/sendMessage")
UPDATES = re.compile(r"/bot(?P<token>[^/]+)/getUpdates")


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
        self.updates: dict[str, list[dict]] = {}       # bot token -> updates not confirmed
        self._update_id = 0
        self._arrived = threading.Condition()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):   # noqa: N802 - the http.server name
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                polled = UPDATES.fullmatch(self.path)
                if polled:
                    return self._answer(200, {"ok": True, "result": fake._poll(
                        polled["token"], int(body.get("offset") or 0),
                        float(body.get("timeout") or 0))})
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
                self._answer(status, answer)

            def _answer(self, status: int, answer: dict) -> None:
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

    def says(self, bot_token: str, chat_id: str, text: str, age_s: float = 0) -> None:
        """The chat sends `text` to the bot (sent age_s ago)."""
        with self._arrived:
            self._update_id += 1
            self.updates.setdefault(bot_token, []).append({
                "update_id": self._update_id,
                "message": {"message_id": self._update_id, "text": text,
                            "date": int(time.time() - age_s),
                            "chat": {"id": int(chat_id), "type": "private"}}})
            self._arrived.notify_all()

    def _poll(self, bot_token: str, offset: int, timeout_s: float) -> list[dict]:
        """Drop what `offset` confirms; answer the rest at once, or wait for some."""
        with self._arrived:
            kept = [u for u in self.updates.get(bot_token, []) if u["update_id"] >= offset]
            self.updates[bot_token] = kept
            self._arrived.wait_for(lambda: self.updates[bot_token], timeout=timeout_s)
            return list(self.updates[bot_token])

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
