"""What the gateway needs per alert, held in memory: the link of a webhook token (by the
token's SHA-256, as the links topic carries it) and the versions of the bot switches, followed
from their compacted topics. No SQL per alert; a token it does not know (a link made a moment
ago in another process, or none at all) is looked up in SQL."""
from __future__ import annotations

from connectors.follower import TopicFollower
from schemas import topics as registry
from webapp.publish import GLOBAL_BOT_KEY, bot_record, link_record


class LinkDirectory:
    def __init__(self, bootstrap: str, namespace: str):
        self.links_topic = registry.topic_name(namespace, registry.LINKS)
        self.bot_topic = registry.topic_name(namespace, registry.BOT)
        self.follower = TopicFollower(bootstrap, [self.links_topic, self.bot_topic],
                                      on_record=self._on_record)
        self.by_hash: dict[str, dict] = {}
        self._hash_of: dict[str, str] = {}   # link id -> the token hash it is filed under

    def start(self) -> None:
        self.follower.start()

    async def stop(self) -> None:
        await self.follower.stop()

    def lookup(self, token_hash: str) -> tuple[dict, int, int] | None:
        """(link, its owner's bot version, the global switch's version), or None when not
        known here (yet)."""
        if not self.follower.caught_up.is_set():
            return None
        link = self.by_hash.get(token_hash)
        if link is None:
            return None
        return link, self._bot_version(link["user_id"]), self._bot_version(GLOBAL_BOT_KEY)

    def _bot_version(self, key: str | None) -> int:
        bot = self.follower.values[self.bot_topic].get(key) if key else None
        return bot["version"] if bot else 0

    def apply(self, *, links: list[dict] = (), bots: list[dict] = ()) -> None:
        """A change this process made: known at once, before its record comes back."""
        for row in links:
            record = link_record(row).asdict()
            self.follower.values[self.links_topic][row["id"]] = record
            self._on_record(self.links_topic, row["id"], record)
        for row in bots:
            self.follower.values[self.bot_topic][row.get("user_id") or GLOBAL_BOT_KEY] = \
                bot_record(row).asdict()

    def _on_record(self, topic: str, key: str, value: dict | None) -> None:
        if topic != self.links_topic:
            return
        current = self.by_hash.get(self._hash_of.get(key, ""))
        if value is not None and current is not None and current["version"] > value["version"]:
            return   # an older record after this process's own change
        old = self._hash_of.pop(key, None)
        if old:
            self.by_hash.pop(old, None)
        if value and value.get("token_hash"):
            self._hash_of[key] = value["token_hash"]
            self.by_hash[value["token_hash"]] = {
                "id": key, "name": value["name"], "version": value["version"],
                "user_id": value.get("user_id"), "kind": value.get("kind", "tradingview"),
                "scan_action": value.get("scan_action")}
