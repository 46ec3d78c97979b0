"""The semantic cache: a question close enough in meaning to one already answered gets that answer, if the
verifier agrees they ask the same thing.

Search is per namespace (model, system prompt, tools, parameters, tenant; see `keys.semantic_namespace`) and per
embedder, so vectors from different models never meet. Entries live in Redis: the answer under its own key with a
TTL, and a capped stream (the log) carrying each entry's namespace, question and vector. Every replica reads the log
from the start when it starts (the rebuild) and then polls it every `sync_interval_s`, so an entry stored by one
replica is found by all within a few seconds. Without Redis the same happens in memory, per replica.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import Counter, OrderedDict
from dataclasses import dataclass

import numpy as np

from gateway.cache.answer import CachedAnswer
from gateway.cache.embedder import Embedder
from gateway.cache.memory import ByteLRU
from gateway.cache.redis_link import RedisLink
from gateway.cache.token_states import TokenStates
from gateway.cache.vector_index import VectorIndex
from gateway.cache.verifier import Verdict, Verifier

log = logging.getLogger(__name__)
_NEIGHBOURS = 4
_SYNC_BATCH = 1000
_SWEEP_EVERY_S = 60.0


@dataclass(frozen=True)
class _Entry:
    namespace: str
    question: str
    expires_at: float


@dataclass(frozen=True)
class SemanticHit:
    answer: CachedAnswer
    similarity: float


@dataclass(frozen=True)
class SemanticLookup:
    hit: SemanticHit | None
    rejected: tuple[str, ...] = ()   # the verifier's reasons for the look-alikes it turned down


class SemanticCache:
    def __init__(self, embedder: Embedder, verifier: Verifier, redis: RedisLink, memory: ByteLRU, prefix: str,
                 threshold: float | None = None, max_entries: int = 200_000) -> None:
        self.embedder = embedder
        self.verifier = verifier
        self.redis = redis
        self.memory = memory
        # The local embedder also gives each question's token states, which the verifier's alignment model reads.
        self._embedded = getattr(embedder, "embedded", None)
        with_tokens = self._embedded is not None
        self.threshold = verifier.search_threshold(with_tokens) if threshold is None else threshold
        self.max_entries = max_entries
        self.rejections: Counter[str] = Counter()
        self._log_key = f"{prefix}:sem:log"
        self._answer_prefix = f"{prefix}:sem:e:"
        self._tokens_prefix = f"{prefix}:sem:t:"
        self._indexes: dict[str, VectorIndex] = {}
        self._entries: OrderedDict[int, _Entry] = OrderedDict()
        self._last_log_id = b"0"
        self._swept_at = time.monotonic()

    @property
    def verifier_kind(self) -> str:
        """Which model judges candidates, for /readyz: the alignment model needs the embedder's token states."""
        return "alignment" if self._embedded is not None and self.verifier.alignment is not None else "logistic"

    async def embedded(self, question: str) -> tuple[np.ndarray, TokenStates | None]:
        """The question's vector, and its token states where the embedder gives them (the local model does)."""
        if self._embedded is None:
            return (await self.embedder.embed([question]))[0], None
        found = await self._embedded(question)
        return found.vector, found.tokens

    def __len__(self) -> int:
        return len(self._entries)

    async def lookup(self, namespace: str, question: str) -> SemanticLookup:
        vector, tokens = await self.embedded(question)
        index = self._indexes.get(self._space(namespace))
        rejected: list[str] = []
        query_tokens: list[np.ndarray] = []  # dequantized on the first candidate only
        for entry_id, similarity in index.search(vector, _NEIGHBOURS) if index is not None else ():
            if similarity < self.threshold:
                break
            if tokens is not None and not query_tokens:
                query_tokens.append(tokens.values())
            hit = await self._verified(entry_id, similarity, question, query_tokens, rejected)
            if hit is not None:
                return SemanticLookup(hit, tuple(rejected))
        return SemanticLookup(None, tuple(rejected))

    async def _verified(self, entry_id: int, similarity: float, question: str, query_tokens: list[np.ndarray],
                        rejected: list[str]) -> SemanticHit | None:
        entry = self._entries.get(entry_id)
        if entry is None or entry.expires_at <= time.time():
            self._forget(entry_id)
            return None
        verdict = self.verifier.screen(question, entry.question, similarity, bool(query_tokens))
        if verdict is not None:
            return self._rejected(verdict, rejected)
        blob, tokens_blob = await self._stored(entry_id)
        answer = CachedAnswer.from_bytes(blob) if blob else None
        if answer is None:  # expired or evicted everywhere: the vector is all that was left
            self._forget(entry_id)
            return None
        cached_tokens = TokenStates.from_bytes(tokens_blob) if tokens_blob and query_tokens else None
        pair = (query_tokens[0], cached_tokens.values()) if cached_tokens is not None else None
        verdict = self.verifier.check(question, entry.question, similarity, pair)
        if not verdict.accepted:
            return self._rejected(verdict, rejected)
        return SemanticHit(answer, similarity)

    def _rejected(self, verdict: Verdict, rejected: list[str]) -> None:
        rejected.append(verdict.reason)
        self.rejections[verdict.family] += 1
        return None

    async def _stored(self, entry_id: int) -> tuple[bytes | None, bytes | None]:
        """The entry's answer and token states: from memory, else both in one Redis round trip."""
        keys = (self._answer_prefix + str(entry_id), self._tokens_prefix + str(entry_id))
        blob, tokens_blob = self.memory.get(keys[0]), self.memory.get(keys[1])
        if blob is None:
            found = await self.redis.call(lambda client: client.mget(keys))
            blob, tokens_blob = found if found else (None, None)
        return blob, tokens_blob

    def store(self, namespace: str, question: str, vector: np.ndarray, answer: CachedAnswer, ttl_s: int,
              tokens: TokenStates | None = None) -> None:
        entry_id = secrets.randbits(62)
        expires_at = time.time() + ttl_s
        blob = answer.to_bytes()
        tokens_blob = tokens.to_bytes() if tokens is not None else b""
        self.memory.put(self._answer_prefix + str(entry_id), blob, ttl_s)
        if tokens_blob:
            self.memory.put(self._tokens_prefix + str(entry_id), tokens_blob, ttl_s)
        self._add(entry_id, _Entry(self._space(namespace), question, expires_at), vector)
        fields = {"id": entry_id, "ns": self._space(namespace), "q": question, "exp": expires_at,
                  "v": np.asarray(vector, dtype=np.float32).tobytes()}
        self.redis.write_behind(lambda client: self._publish(client, entry_id, blob, tokens_blob, ttl_s, fields))

    async def _publish(self, client, entry_id: int, blob: bytes, tokens_blob: bytes, ttl_s: int,
                       fields: dict) -> None:
        async with client.pipeline(transaction=False) as pipe:
            pipe.set(self._answer_prefix + str(entry_id), blob, ex=ttl_s)
            if tokens_blob:
                pipe.set(self._tokens_prefix + str(entry_id), tokens_blob, ex=ttl_s)
            pipe.xadd(self._log_key, fields, maxlen=self.max_entries, approximate=True)
            await pipe.execute()

    async def sync(self) -> int:
        """Add the entries other replicas logged since the last call (all of them on the first); returns how many."""
        added = 0
        while True:
            batch = await self.redis.call(lambda client: client.xread({self._log_key: self._last_log_id},
                                                                      count=_SYNC_BATCH), timeout_s=2.0)
            records = batch[0][1] if batch else []
            for log_id, fields in records:
                self._last_log_id = log_id
                added += self._add_logged(fields)
            if len(records) < _SYNC_BATCH:
                return added

    async def run_sync(self, interval_s: float) -> None:
        """The replica's sync loop: rebuild from Redis, then follow the log; expired entries are swept as it goes."""
        while True:
            try:
                added = await self.sync()
                if added:
                    log.debug("semantic cache: %d entries from other replicas", added)
                self._sweep()
            except Exception:  # never let one bad record stop the replica from following the log
                log.exception("semantic cache sync failed; retrying")
            await asyncio.sleep(interval_s)

    def _add_logged(self, fields: dict) -> int:
        try:
            entry_id = int(fields[b"id"])
            expires_at = float(fields[b"exp"])
            vector = np.frombuffer(fields[b"v"], dtype=np.float32)
            entry = _Entry(fields[b"ns"].decode(), fields[b"q"].decode(), expires_at)
        except (KeyError, ValueError, UnicodeDecodeError):
            return 0
        if entry_id in self._entries or expires_at <= time.time() or vector.shape[0] != self.embedder.dim:
            return 0
        self._add(entry_id, entry, vector)
        return 1

    def _add(self, entry_id: int, entry: _Entry, vector: np.ndarray) -> None:
        index = self._indexes.get(entry.namespace)
        if index is None:
            index = self._indexes[entry.namespace] = VectorIndex(self.embedder.dim)
        index.add(np.array([entry_id], dtype=np.int64), np.asarray(vector, dtype=np.float32).reshape(1, -1))
        self._entries[entry_id] = entry
        while len(self._entries) > self.max_entries:
            self._forget(next(iter(self._entries)))

    def _forget(self, entry_id: int) -> None:
        entry = self._entries.pop(entry_id, None)
        if entry is not None:
            self._indexes[entry.namespace].remove(np.array([entry_id], dtype=np.int64))
            self.memory.remove(self._answer_prefix + str(entry_id))
            self.memory.remove(self._tokens_prefix + str(entry_id))

    def _sweep(self) -> None:
        if time.monotonic() - self._swept_at < _SWEEP_EVERY_S:
            return
        self._swept_at = time.monotonic()
        now = time.time()
        for entry_id in [key for key, entry in self._entries.items() if entry.expires_at <= now]:
            self._forget(entry_id)

    def _space(self, namespace: str) -> str:
        return f"{self.embedder.name}|{namespace}"
