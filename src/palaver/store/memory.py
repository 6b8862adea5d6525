"""The in-memory twin of the SQLite store: same behaviour, nothing kept across restarts."""

from __future__ import annotations

import bisect
from collections.abc import Sequence

import msgspec

from palaver.store.base import (
    DELETED_NICK,
    MAX_REACTIONS_PER_MESSAGE,
    Account,
    AccountErasure,
    Appended,
    Deletion,
    Editing,
    NotifyLevel,
    Page,
    Reacting,
    ReactionMap,
    RoomSettings,
    SearchHit,
    SearchPage,
    StoredMarker,
    StoredMessage,
    StoredUpdate,
    StoredVersion,
    UpdatePage,
    check_search_words,
    later_ts,
    search_folded,
)


class MemoryStore:
    def __init__(self) -> None:
        self._conversations: dict[str, list[StoredMessage]] = {}
        self._by_client_id: dict[tuple[str, str], StoredMessage] = {}
        self._accounts: dict[str, Account] = {}
        self._memberships: dict[str, dict[str, str]] = {}
        self._marks: dict[str, dict[str, int]] = {}
        self._rooms: dict[str, RoomSettings] = {}
        self._markers: dict[str, dict[str, StoredMarker]] = {}  # identity -> conversation ->
        self._metadata: dict[str, dict[str, str]] = {}  # target -> key -> value
        self._levels: dict[str, dict[str, NotifyLevel]] = {}  # identity -> conversation -> level
        self._certificates: dict[str, str] = {}  # fingerprint -> account key, oldest first
        self._reset_tokens: dict[str, tuple[str, str]] = {}  # account -> (token hash, expires)
        # (conversation, msg_id) -> reaction -> identity -> nick, each in the order given
        self._reactions: dict[tuple[str, int], dict[str, dict[str, str]]] = {}
        # (conversation, msg_id) -> the texts an edited message had before, oldest first
        self._versions: dict[tuple[str, int], list[StoredVersion]] = {}
        self._updates: dict[str, list[StoredUpdate]] = {}  # conversation -> its updates
        # (conversation, msg_id) -> its search position (the order messages were stored)
        self._positions: dict[tuple[str, int], int] = {}

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def append(self, batch: Sequence[StoredMessage]) -> list[Appended]:
        outcome: list[Appended] = []
        for message in batch:
            if message.client_id is not None:
                key = (message.sender_key, message.client_id)
                original = self._by_client_id.get(key)
                if original is not None:
                    outcome.append(original)
                    continue
                self._by_client_id[key] = message
            log = self._conversations.setdefault(message.conversation, [])
            if log and log[-1].msg_id >= message.msg_id:
                raise ValueError(f"msg_id {message.msg_id} is not after {log[-1].msg_id} "
                                 f"in {message.conversation}")
            log.append(message)
            self._positions[(message.conversation, message.msg_id)] = len(self._positions) + 1
            outcome.append(None)
        return outcome

    async def last_ids(self) -> dict[str, int]:
        last = {key: log[-1].msg_id for key, log in self._conversations.items() if log}
        for key, updates in self._updates.items():
            for update in updates:
                last[key] = max(last.get(key, 0), update.seq)
        return last

    async def page(
        self, conversation: str, *, before: int | None = None, after: int | None = None,
        limit: int = 50,
    ) -> Page:
        log = self._conversations.get(conversation, [])
        ids = [m.msg_id for m in log]
        if after is not None:
            start = bisect.bisect_right(ids, after)
            chosen = log[start:start + limit]
            return Page(messages=tuple(chosen), more=start + limit < len(log))
        end = len(log) if before is None else bisect.bisect_left(ids, before)
        start = max(0, end - limit)
        return Page(messages=tuple(log[start:end]), more=start > 0)

    async def msg_id_at(self, conversation: str, ts: str) -> int:
        return max((m.msg_id for m in self._conversations.get(conversation, ())
                    if m.ts <= ts), default=0)

    async def last_activity(
        self, conversations: Sequence[str], *, after: str, before: str
    ) -> dict[str, str]:
        out: dict[str, str] = {}
        for conversation in conversations:
            newest = max((m.ts for m in self._conversations.get(conversation, ())), default="")
            if newest and after < newest < before:
                out[conversation] = newest
        return out

    async def create_account(self, account: Account) -> bool:
        if account.key in self._accounts:
            return False
        self._accounts[account.key] = account
        return True

    async def get_account(self, key: str) -> Account | None:
        return self._accounts.get(key)

    async def rename_account(self, key: str, new_key: str, new_nick: str) -> bool:
        account = self._accounts.get(key)
        if account is None or (new_key != key and new_key in self._accounts):
            return False
        del self._accounts[key]
        self._accounts[new_key] = msgspec.structs.replace(account, key=new_key, nick=new_nick)
        if key in self._memberships:
            self._memberships[new_key] = self._memberships.pop(key)
        if key in self._markers:
            self._markers[new_key] = self._markers.pop(key)
        if key in self._levels:
            self._levels[new_key] = self._levels.pop(key)
        if key in self._metadata:
            self._metadata[new_key] = self._metadata.pop(key)
        for fingerprint, holder in self._certificates.items():
            if holder == key:
                self._certificates[fingerprint] = new_key
        for conversation, updates in self._updates.items():
            self._updates[conversation] = [
                msgspec.structs.replace(u, by_key=new_key) if u.by_key == key else u
                for u in updates]
        for given in self._reactions.values():
            for reaction, who in given.items():
                if key in who:
                    given[reaction] = {new_key if k == key else k: n for k, n in who.items()}
        return True

    async def set_membership(self, account_key: str, room: str, member: bool) -> None:
        rooms = self._memberships.setdefault(account_key, {})
        if member:
            rooms.setdefault(room.lower(), room)
        else:
            rooms.pop(room.lower(), None)

    async def memberships(self) -> dict[str, list[str]]:
        return {key: list(rooms.values()) for key, rooms in self._memberships.items() if rooms}

    async def accounts(self) -> dict[str, str]:
        return {key: account.nick for key, account in self._accounts.items()}

    async def save_marks(self, account_key: str, marks: dict[str, int]) -> None:
        self._marks[account_key] = dict(marks)

    async def load_marks(self, account_key: str) -> dict[str, int]:
        return dict(self._marks.get(account_key, {}))

    async def save_room(self, settings: RoomSettings, *, new: bool = False) -> bool:
        key = settings.room.lower()
        if new and key in self._rooms:
            return False
        self._rooms[key] = settings
        return True

    async def room_settings(self) -> list[RoomSettings]:
        return list(self._rooms.values())

    async def set_read_marker(
        self, identity: str, conversation: str, *, msg_id: int | None = None,
        ts: str | None = None,
    ) -> tuple[StoredMarker, bool]:
        log = self._conversations.get(conversation, [])
        if msg_id is not None:  # its time: that message's
            ids = [m.msg_id for m in log]
            at = bisect.bisect_right(ids, msg_id) - 1
            ts = later_ts(ts, log[at].ts if at >= 0 and log[at].msg_id == msg_id else None)
        if ts is not None:  # its msg_id: the newest message sent at or before it
            sent = [m.msg_id for m in log if m.ts <= ts]
            msg_id = max(msg_id or 0, max(sent, default=0))
        markers = self._markers.setdefault(identity, {})
        old = markers.get(conversation, StoredMarker(conversation=conversation))
        new = StoredMarker(conversation=conversation, msg_id=max(old.msg_id, msg_id or 0),
                           ts=later_ts(old.ts, ts))
        if new == old:
            return old, False
        markers[conversation] = new
        return new, True

    async def read_markers(self, identity: str) -> list[StoredMarker]:
        return list(self._markers.get(identity, {}).values())

    async def set_notify_level(self, identity: str, conversation: str,
                               level: NotifyLevel) -> bool:
        levels = self._levels.setdefault(identity, {})
        old = levels.get(conversation, "all")
        if level == "all":
            levels.pop(conversation, None)
        else:
            levels[conversation] = level
        if not levels:
            del self._levels[identity]
        return old != level

    async def notify_levels(self, identity: str) -> dict[str, NotifyLevel]:
        return dict(sorted(self._levels.get(identity, {}).items()))

    async def delete_message(
        self, conversation: str, msg_id: int, *, sender_key: str | None = None,
        update: StoredUpdate | None = None,
    ) -> Deletion:
        log = self._conversations.get(conversation, [])
        ids = [m.msg_id for m in log]
        at = bisect.bisect_left(ids, msg_id)
        if at == len(log) or log[at].msg_id != msg_id:
            return Deletion(outcome="no_such_message")
        message = log[at]
        if sender_key is not None and message.sender_key != sender_key:
            return Deletion(outcome="not_sender")
        if message.deleted:
            return Deletion(outcome="already_deleted", message=message)
        tombstone = msgspec.structs.replace(message, text="", deleted=True)
        log[at] = tombstone
        if message.client_id is not None:
            self._by_client_id[(message.sender_key, message.client_id)] = tombstone
        self._versions.pop((conversation, msg_id), None)
        if conversation in self._updates:  # its earlier updates go, their texts with them
            self._updates[conversation] = [u for u in self._updates[conversation]
                                           if u.msg_id != msg_id]
        self._store_update(update)
        return Deletion(outcome="deleted", message=tombstone, update=update)

    async def edit_message(
        self, conversation: str, msg_id: int, *, sender_key: str, text: str, edited_at: str,
        sent_after: str | None = None, update: StoredUpdate | None = None,
    ) -> Editing:
        log = self._conversations.get(conversation, [])
        at = bisect.bisect_left([m.msg_id for m in log], msg_id)
        if at == len(log) or log[at].msg_id != msg_id:
            return Editing(outcome="no_such_message")
        message = log[at]
        if message.sender_key != sender_key:
            return Editing(outcome="not_sender")
        if message.deleted:
            return Editing(outcome="deleted")
        if sent_after is not None and message.ts < sent_after:
            return Editing(outcome="too_late")
        if message.text == text:
            return Editing(outcome="unchanged", message=message)
        self._versions.setdefault((conversation, msg_id), []).append(
            StoredVersion(text=message.text, ts=message.edited_at or message.ts))
        edited = msgspec.structs.replace(message, text=text, edited_at=edited_at)
        log[at] = edited
        if message.client_id is not None:
            self._by_client_id[(message.sender_key, message.client_id)] = edited
        self._store_update(update)
        return Editing(outcome="edited", message=edited, update=update)

    def _store_update(self, update: StoredUpdate | None) -> None:
        if update is not None:
            self._updates.setdefault(update.conversation, []).append(update)

    async def updates(
        self, conversation: str, *, after: int, upto: int, limit: int,
    ) -> UpdatePage:
        found = sorted((u for u in self._updates.get(conversation, ())
                        if after < u.seq <= upto and u.msg_id <= after), key=lambda u: u.seq)
        return UpdatePage(updates=tuple(found[-limit:]), more=len(found) > limit)

    async def message_versions(self, conversation: str, msg_id: int) -> list[StoredVersion] | None:
        log = self._conversations.get(conversation, [])
        at = bisect.bisect_left([m.msg_id for m in log], msg_id)
        if at == len(log) or log[at].msg_id != msg_id:
            return None
        message = log[at]
        if message.deleted:
            return []
        return [*self._versions.get((conversation, msg_id), ()),
                StoredVersion(text=message.text, ts=message.edited_at or message.ts)]

    async def search(
        self, conversations: Sequence[str], words: Sequence[str], *,
        before: int | None = None, limit: int = 20,
    ) -> SearchPage:
        check_search_words(words)
        folded = [search_folded(word) for word in words]
        found: list[SearchHit] = []
        for conversation in dict.fromkeys(conversations):
            for message in self._conversations.get(conversation, ()):
                position = self._positions.get((conversation, message.msg_id), 0)
                if message.deleted or (before is not None and position >= before):
                    continue
                text = search_folded(message.text)
                if all(word in text for word in folded):
                    found.append(SearchHit(position=position, message=message))
        found.sort(key=lambda hit: hit.position, reverse=True)
        return SearchPage(hits=tuple(found[:limit]), more=len(found) > limit)

    async def save_metadata(self, target: str, values: Sequence[tuple[str, str]]) -> None:
        if values:
            self._metadata[target] = dict(values)
        else:
            self._metadata.pop(target, None)

    async def metadata(self) -> dict[str, dict[str, str]]:
        return {target: dict(values) for target, values in self._metadata.items()}

    def _find(self, conversation: str, msg_id: int) -> StoredMessage | None:
        log = self._conversations.get(conversation, [])
        at = bisect.bisect_left([m.msg_id for m in log], msg_id)
        return log[at] if at < len(log) and log[at].msg_id == msg_id else None

    async def react(
        self, conversation: str, msg_id: int, *, identity: str, nick: str, reaction: str,
        ts: str, remove: bool = False, update: StoredUpdate | None = None,
    ) -> Reacting:
        reacting = self._react(conversation, msg_id, identity, nick, reaction, remove)
        if reacting.outcome in ("added", "removed") and update is not None:
            self._store_update(update)
            reacting = msgspec.structs.replace(reacting, update=update)
        return reacting

    def _react(self, conversation: str, msg_id: int, identity: str, nick: str, reaction: str,
               remove: bool) -> Reacting:
        message = self._find(conversation, msg_id)
        if message is None:
            return Reacting(outcome="no_such_message")
        if message.deleted:
            return Reacting(outcome="deleted", message=message)
        given = self._reactions.setdefault((conversation, msg_id), {})
        who = given.get(reaction, {})
        if remove:
            if identity not in who:
                return Reacting(outcome="unchanged", message=message)
            del who[identity]
            if not who:
                del given[reaction]
            return Reacting(outcome="removed", message=message)
        if identity in who:
            return Reacting(outcome="unchanged", message=message)
        if reaction not in given and len(given) >= MAX_REACTIONS_PER_MESSAGE:
            return Reacting(outcome="too_many", message=message)
        given.setdefault(reaction, {})[identity] = nick
        return Reacting(outcome="added", message=message)

    async def reactions(self, conversation: str, msg_ids: Sequence[int]) -> dict[int, ReactionMap]:
        out: dict[int, ReactionMap] = {}
        for msg_id in msg_ids:
            given = self._reactions.get((conversation, msg_id))
            if given:
                out[msg_id] = {r: tuple(who.values()) for r, who in given.items()}
        return out

    async def messages(self, conversation: str, msg_ids: Sequence[int]) -> dict[int, StoredMessage]:
        found = {msg_id: self._find(conversation, msg_id) for msg_id in msg_ids}
        return {msg_id: m for msg_id, m in found.items() if m is not None}

    async def bind_certificate(self, account_key: str, fingerprint: str) -> bool:
        holder = self._certificates.setdefault(fingerprint, account_key)
        return holder == account_key

    async def unbind_certificate(self, account_key: str, fingerprint: str) -> bool:
        if self._certificates.get(fingerprint) != account_key:
            return False
        del self._certificates[fingerprint]
        return True

    async def certificates(self, account_key: str) -> list[str]:
        return [fp for fp, holder in self._certificates.items() if holder == account_key]

    async def certificate_account(self, fingerprint: str) -> str | None:
        return self._certificates.get(fingerprint)

    # ------------------------------------------------------------------ account management

    async def set_password(self, key: str, password_hash: str) -> bool:
        account = self._accounts.get(key)
        if account is None:
            return False
        self._accounts[key] = msgspec.structs.replace(account, password_hash=password_hash)
        self._reset_tokens.pop(key, None)
        return True

    async def set_reset_token(self, key: str, token_hash: str, expires: str) -> bool:
        if key not in self._accounts:
            return False
        self._reset_tokens[key] = (token_hash, expires)
        return True

    async def reset_password(self, key: str, token_hash: str, now: str,
                             password_hash: str) -> bool:
        held = self._reset_tokens.get(key)
        if held is None:
            return False
        if held[1] <= now:
            del self._reset_tokens[key]  # expired: gone
            return False
        if held[0] != token_hash:
            return False
        return await self.set_password(key, password_hash)

    async def set_locked(self, key: str, locked: bool) -> bool:
        account = self._accounts.get(key)
        if account is None:
            return False
        self._accounts[key] = msgspec.structs.replace(account, locked=locked)
        return True

    async def locked_accounts(self) -> set[str]:
        return {key for key, account in self._accounts.items() if account.locked}

    async def note_seen(self, key: str, ts: str) -> None:
        account = self._accounts.get(key)
        if account is not None:
            self._accounts[key] = msgspec.structs.replace(account, last_seen=ts)

    async def account_list(self) -> list[Account]:
        return [self._accounts[key] for key in sorted(self._accounts)]

    async def delete_account(self, erasure: AccountErasure) -> bool:
        key, tombstone = erasure.key, erasure.tombstone
        existed = self._accounts.pop(key, None) is not None
        for table in (self._memberships, self._marks, self._markers, self._metadata,
                      self._reset_tokens, self._levels):
            table.pop(key, None)
        for fingerprint in [fp for fp, holder in self._certificates.items() if holder == key]:
            del self._certificates[fingerprint]
        renames = dict(erasure.renames)
        for old, new in renames.items():
            if old in self._conversations:
                self._conversations[new] = self._conversations.pop(old)
            for marks in self._marks.values():
                if old in marks:
                    marks[new] = marks.pop(old)
            for markers in self._markers.values():
                if old in markers:
                    markers[new] = msgspec.structs.replace(markers.pop(old), conversation=new)
            for levels in self._levels.values():
                if old in levels:
                    levels[new] = levels.pop(old)
            for reacted in [r for r in self._reactions if r[0] == old]:
                self._reactions[(new, reacted[1])] = self._reactions.pop(reacted)
            for edited in [e for e in self._versions if e[0] == old]:
                self._versions[(new, edited[1])] = self._versions.pop(edited)
            if old in self._updates:
                self._updates[new] = [msgspec.structs.replace(u, conversation=new)
                                      for u in self._updates.pop(old)]
        for conversation, log in self._conversations.items():
            for n, message in enumerate(log):
                if message.conversation != conversation:  # moved (renames): a DM
                    message = msgspec.structs.replace(
                        message, conversation=conversation,
                        to=DELETED_NICK if message.sender_key != key else message.to)
                if message.sender_key == key:
                    if message.client_id is not None:
                        self._by_client_id.pop((key, message.client_id), None)
                    message = msgspec.structs.replace(
                        message, sender=DELETED_NICK, sender_key=tombstone, client_id=None,
                        **({"text": "", "deleted": True} if erasure.erase else {}))
                    if erasure.erase:
                        self._versions.pop((conversation, message.msg_id), None)
                elif message.client_id is not None and message is not log[n]:
                    self._by_client_id[(message.sender_key, message.client_id)] = message
                log[n] = message
        for conversation, updates in self._updates.items():  # by the tombstone identity now;
            self._updates[conversation] = [  # the edits of erased messages go, with their texts
                msgspec.structs.replace(u, by_key=tombstone, by=DELETED_NICK)
                if u.by_key == key else u
                for u in updates if not (erasure.erase and u.by_key == key and u.kind == "edit")]
        for given in self._reactions.values():
            for reaction, who in given.items():
                if key in who:
                    given[reaction] = {tombstone if k == key else k: (DELETED_NICK if k == key
                                                                      else n)
                                       for k, n in who.items()}
        return existed

    # ------------------------------------------------------------------ files (UPLOAD)

    def _with_files(self) -> list[StoredMessage]:
        return [m for log in self._conversations.values() for m in log if m.file is not None]

    async def file_message(self, file_id: str) -> StoredMessage | None:
        for log in self._conversations.values():
            for message in log:
                if message.file is not None and message.file.file_id == file_id:
                    return message
        return None

    async def files_usage(self, sender_key: str) -> int:
        return sum(m.file.size for m in self._with_files()
                   if m.file is not None and m.sender_key == sender_key and not m.deleted)

    async def file_hashes(self) -> set[str]:
        return {m.file.sha256 for m in self._with_files() if m.file is not None and not m.deleted}
