"""Seeded records for FakeAllium's data streams, shaped after Allium's published schemas.

Topic names follow the websockets page's ``{blockchain}.{data_type}`` pattern and its examples
(``ethereum.blocks``, ``ethereum.transactions``, ``ethereum.logs``, ``base.dex_trades``,
``solana.transactions``, ``hyperliquid.fills``, ``bitcoin.blocks``;
https://docs.allium.so/datastreams/websockets). Allium publishes no sample message for most of
them, so the shapes are assumptions built from what is published:

- EVM ``blocks`` / ``transactions`` / ``logs`` / ``dex_trades``, ``bitcoin.blocks`` and
  ``solana.transactions`` are flat rows with the column names of Allium's warehouse tables
  (https://docs.allium.so/historical-data/supported-blockchains/), plus ``blockchain`` (the
  docs' filter example tests ``blockchain = "ethereum"`` on a transactions stream). Wei amounts
  are decimal strings, as the docs' filter example compares them; integers are JSON numbers;
  timestamps are ISO 8601 UTC strings.
- Hyperliquid records are wrapped in ``payload``, as the sample messages on
  https://docs.allium.so/historical-data/supported-blockchains/hyperliquid/streams are; the
  ``blocks`` payload is the documented one, ``fills`` uses the field names of Allium's REST
  fills (plus ``user``), ``trades`` carries both sides (``users``).
- Any other topic gets a generic record: ``topic``, ``sequence``, ``timestamp``, ``value``.

The same seed and the same calls give the same records; times come from a simulated clock.
Not thread-safe: the fake calls it under its market lock.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from typing import Any, Callable

from wsclients.testing.market import Market

__all__ = ["DOCUMENTED_TOPICS", "RecordGenerator"]

DOCUMENTED_TOPICS: tuple[str, ...] = (
    "ethereum.blocks",
    "ethereum.transactions",
    "ethereum.logs",
    "base.dex_trades",
    "solana.transactions",
    "hyperliquid.fills",
    "bitcoin.blocks",
)
"""The topic names the websockets page gives as examples; each has a shaped record here."""

_START_S = 1_700_000_000
_ERC20_TRANSFER = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_BLOCK_SECONDS = {"ethereum": 12, "bitcoin": 600, "solana": 1, "hyperliquid": 1}
_TXS_PER_BLOCK = 5
_WETH = "0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2"
_USDC = "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48"


class _Topic:
    """One topic's own walk: its random stream, record count and chain height."""

    def __init__(self, topic: str, seed: int) -> None:
        self.topic = topic
        self.chain, _, self.kind = topic.partition(".")
        self.rng = random.Random(f"wsclients-allium:{seed}:{topic}")
        self.count = 0
        self.height = {"bitcoin": 820_000, "solana": 230_000_000,
                       "hyperliquid": 636_283_712}.get(self.chain, 18_500_000)
        self.base_height = self.height
        self.block_seconds = _BLOCK_SECONDS.get(self.chain, 12)


class RecordGenerator:
    """Makes the next record of any topic.

    Args:
        market: prices for trades and fills (symbols ``ETH``, ``BTC``, ``SOL`` are used when
            present, else the market's first symbol).
        seed: seeds every topic's stream.
        addresses: size of the pool of wallet addresses records draw from (small, so that a
            filter on an address matches now and then).
    """

    def __init__(self, market: Market, *, seed: int = 0, addresses: int = 16) -> None:
        self.market = market
        self.seed = seed
        pool = random.Random(f"wsclients-allium:{seed}:addresses")
        self.addresses = tuple(f"0x{pool.getrandbits(160):040x}" for _ in range(addresses))
        self._topics: dict[str, _Topic] = {}
        self._makers: dict[tuple[str, str], Callable[[_Topic], dict[str, Any]]] = {
            ("hyperliquid", "fills"): self._hl_fill,
            ("hyperliquid", "trades"): self._hl_trade,
            ("hyperliquid", "blocks"): self._hl_block,
            ("bitcoin", "blocks"): self._bitcoin_block,
            ("solana", "transactions"): self._solana_transaction,
        }
        self._evm_makers: dict[str, Callable[[_Topic], dict[str, Any]]] = {
            "blocks": self._evm_block,
            "transactions": self._evm_transaction,
            "logs": self._evm_log,
            "dex_trades": self._dex_trade,
        }

    def next_record(self, topic: str) -> dict[str, Any]:
        """The next record of ``topic`` (a fresh dict)."""
        state = self._topics.get(topic)
        if state is None:
            state = self._topics[topic] = _Topic(topic, self.seed)
        state.count += 1
        maker = self._makers.get((state.chain, state.kind))
        if maker is None and state.chain not in ("bitcoin", "solana", "hyperliquid"):
            maker = self._evm_makers.get(state.kind)
        return self._generic(state) if maker is None else maker(state)

    def records(self, topic: str, n: int) -> list[dict[str, Any]]:
        """``n`` successive records of ``topic``."""
        return [self.next_record(topic) for _ in range(n)]

    # EVM ------------------------------------------------------------------------------------

    def _evm_block(self, t: _Topic) -> dict[str, Any]:
        t.height += 1
        rng = t.rng
        gas_limit = 30_000_000
        return {
            "blockchain": t.chain,
            "number": t.height,
            "hash": _hex(rng, 32),
            "parent_hash": _hex(rng, 32),
            "timestamp": _iso(t, t.height),
            "miner": rng.choice(self.addresses),
            "nonce": "0x0000000000000000",
            "difficulty": 0,
            "size": int(rng.random() * 200_000) + 1_000,
            "gas_limit": gas_limit,
            "gas_used": int(rng.random() * gas_limit),
            "transaction_count": int(rng.random() * 300),
            "base_fee_per_gas": int(rng.random() * 50_000_000_000) + 1,
        }

    def _evm_transaction(self, t: _Topic) -> dict[str, Any]:
        rng = t.rng
        block = self._tx_block(t)
        # A few contract creations (no to_address) so that `exists` has something to filter.
        creation = rng.random() < 0.1
        # Zero three times in ten, else from dust to a few thousand ether: a wei decimal string.
        value = "0" if rng.random() < 0.3 else str(int(rng.random() * 10 ** rng.randint(14, 22)))
        return {
            "blockchain": t.chain,
            "hash": _hex(rng, 32),
            "nonce": int(rng.random() * 5_000),
            "transaction_index": (t.count - 1) % _TXS_PER_BLOCK,
            "from_address": rng.choice(self.addresses),
            "to_address": None if creation else rng.choice(self.addresses),
            "value": value,
            "gas": 21_000 + int(rng.random() * 200_000),
            "gas_price": str(int(rng.random() * 50_000_000_000) + 1),
            "input": "0x",
            "receipt_contract_address": _hex(rng, 20) if creation else None,
            "receipt_status": 0 if rng.random() < 0.05 else 1,
            "receipt_gas_used": 21_000,
            "block_timestamp": _iso(t, block),
            "block_number": block,
            "block_hash": _block_hash(self.seed, t.chain, block),
        }

    def _evm_log(self, t: _Topic) -> dict[str, Any]:
        rng = t.rng
        block = self._tx_block(t)
        return {
            "blockchain": t.chain,
            "transaction_hash": _hex(rng, 32),
            "transaction_index": (t.count - 1) % _TXS_PER_BLOCK,
            "log_index": t.count - 1,
            "address": rng.choice((_WETH, _USDC)),
            "data": "0x" + f"{int(rng.random() * 10**20):064x}",
            "topic0": _ERC20_TRANSFER,
            "topic1": "0x" + "0" * 24 + rng.choice(self.addresses)[2:],
            "topic2": "0x" + "0" * 24 + rng.choice(self.addresses)[2:],
            "topic3": None,
            "block_timestamp": _iso(t, block),
            "block_number": block,
            "block_hash": _block_hash(self.seed, t.chain, block),
        }

    def _dex_trade(self, t: _Topic) -> dict[str, Any]:
        rng = t.rng
        block = self._tx_block(t)
        trade = self.market.next_trade(self._symbol("ETH"))
        weth = trade.size
        usdc = (trade.price * trade.size).quantize(Decimal("0.000001"))
        sold_weth = trade.side == "sell"  # the aggressor sells WETH for USDC
        legs = {
            "sold": (_WETH, "WETH", 18, weth) if sold_weth else (_USDC, "USDC", 6, usdc),
            "bought": (_USDC, "USDC", 6, usdc) if sold_weth else (_WETH, "WETH", 18, weth),
        }
        record: dict[str, Any] = {
            "blockchain": t.chain,
            "project": "uniswap",
            "protocol": "uniswap_v3",
            "liquidity_pool_address": "0x" + "8ad599c3a0ff1de082011efddc58f1908eb6e6d8",
            "sender_address": rng.choice(self.addresses),
            "to_address": rng.choice(self.addresses),
        }
        for side, (address, symbol, decimals, amount) in legs.items():
            raw = str(int(amount * 10**decimals))
            record.update({
                f"token_{side}_address": address,
                f"token_{side}_symbol": symbol,
                f"token_{side}_decimals": decimals,
                f"token_{side}_amount_raw_str": raw,
                f"token_{side}_amount_str": str(amount),
                f"token_{side}_amount": float(amount),
            })
        record.update({
            "usd_amount": float(usdc),
            "transaction_hash": _hex(rng, 32),
            "transaction_from_address": record["sender_address"],
            "block_number": block,
            "block_timestamp": _iso(t, block),
            "unique_id": f"{t.chain}-{block}-{t.count}",
        })
        return record

    # Other chains ---------------------------------------------------------------------------

    def _bitcoin_block(self, t: _Topic) -> dict[str, Any]:
        t.height += 1
        rng = t.rng
        return {
            "blockchain": "bitcoin",
            "number": t.height,
            "hash": f"{rng.getrandbits(200):064x}",
            "previous_blockhash": f"{rng.getrandbits(200):064x}",
            "merkle_root": f"{rng.getrandbits(256):064x}",
            "timestamp": _iso(t, t.height),
            "version": 536870912,
            "nonce": rng.getrandbits(32),
            "bits": "17034219",
            "difficulty": 67305906902031.39,
            "size": 1_000_000 + int(rng.random() * 1_000_000),
            "transaction_count": 1 + int(rng.random() * 4_000),
        }

    def _solana_transaction(self, t: _Topic) -> dict[str, Any]:
        rng = t.rng
        slot = self._tx_block(t)
        signature = _base58(rng, 88)
        signer = _base58(rng, 44)
        return {
            "blockchain": "solana",
            "block_slot": slot,
            "block_height": slot - 18_000_000,
            "block_timestamp": _iso(t, slot),
            "block_hash": _base58(rng, 44),
            "txn_id": signature,
            "txn_index": (t.count - 1) % _TXS_PER_BLOCK,
            "signatures": [signature],
            "fee": 5_000,
            "err": None if rng.random() >= 0.1 else {"InstructionError": [0, "Custom"]},
            "account_keys": [signer, _base58(rng, 44)],
            "signer": signer,
            "recent_block_hash": _base58(rng, 44),
        }

    def _hl_fill(self, t: _Topic) -> dict[str, Any]:
        rng = t.rng
        trade = self.market.next_trade()
        buy = trade.side == "buy"
        return {"payload": {
            "user": rng.choice(self.addresses),
            "coin": trade.symbol,
            "px": str(trade.price),
            "sz": str(trade.size),
            "side": "B" if buy else "A",
            "time": trade.timestamp_ns // 1_000_000,
            "startPosition": "0.0",
            "dir": "Open Long" if buy else "Open Short",
            "closedPnl": "0.0",
            "hash": _hex(rng, 32),
            "oid": 10**10 + trade.trade_id,
            "crossed": True,
            "fee": str((trade.price * trade.size * Decimal("0.00035")).quantize(
                Decimal("0.000001"))),
            "tid": 10**14 + trade.trade_id,
            "feeToken": "USDC",
        }}

    def _hl_trade(self, t: _Topic) -> dict[str, Any]:
        rng = t.rng
        trade = self.market.next_trade()
        return {"payload": {
            "coin": trade.symbol,
            "side": "B" if trade.side == "buy" else "A",
            "px": str(trade.price),
            "sz": str(trade.size),
            "time": trade.timestamp_ns // 1_000_000,
            "hash": _hex(rng, 32),
            "tid": 10**14 + trade.trade_id,
            "users": [rng.choice(self.addresses), rng.choice(self.addresses)],
        }}

    def _hl_block(self, t: _Topic) -> dict[str, Any]:
        rng = t.rng
        t.height += 1
        return {"payload": {
            "height": t.height,
            "blockTime": (_START_S + t.height - t.base_height) * 1000 + int(rng.random() * 1000),
            "hash": _hex(rng, 32),
            "proposer": _hex(rng, 20),
            "numTxs": int(rng.random() * 2_000),
        }}

    def _generic(self, t: _Topic) -> dict[str, Any]:
        return {
            "topic": t.topic,
            "sequence": t.count,
            "timestamp": _iso(t, t.base_height + t.count),
            "value": str(int(t.rng.random() * 10**20)),
        }

    # Helpers --------------------------------------------------------------------------------

    def _tx_block(self, t: _Topic) -> int:
        # Several transactions per block: the height moves every _TXS_PER_BLOCK records.
        return t.height + (t.count - 1) // _TXS_PER_BLOCK

    def _symbol(self, preferred: str) -> str:
        return preferred if preferred in self.market.symbols else self.market.symbols[0]


def _hex(rng: random.Random, size: int) -> str:
    return f"0x{rng.getrandbits(size * 8):0{size * 2}x}"


def _base58(rng: random.Random, length: int) -> str:
    return "".join(_BASE58[int(rng.random() * 58)] for _ in range(length))


def _block_hash(seed: int, chain: str, block: int) -> str:
    # Same block, same hash, whichever stream mentions it.
    return _hex(random.Random(f"wsclients-allium:{seed}:{chain}:{block}"), 32)


def _iso(t: _Topic, height: int) -> str:
    """The simulated time of block ``height`` of ``t``'s chain."""
    seconds = _START_S + (height - t.base_height) * t.block_seconds
    when = dt.datetime.fromtimestamp(seconds, tz=dt.timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")
