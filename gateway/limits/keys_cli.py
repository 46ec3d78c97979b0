"""`gateway keys create|hash`: issue a client key and print the config entry that holds only its SHA-256.

The key is printed once, to the operator's terminal, and never stored or logged by the gateway. Revoking a key
means deleting its entry from the config: the gateway reloads its keys when the file changes (limits/key_store.py).
"""

from __future__ import annotations

import argparse
import secrets

from gateway.config.key_settings import PERIODS, hash_key


def add_keys_arguments(keys: argparse.ArgumentParser) -> None:
    commands = keys.add_subparsers(dest="keys_command", required=True)
    create = commands.add_parser("create", help="make a new random key; print it once, and its config entry")
    create.add_argument("--name", required=True, help="who the key is for (shown in logs and the ledger)")
    create.add_argument("--tenant", help="cache and accounting tenant")
    create.add_argument("--budget-usd", type=float, help="spend budget in USD (the gateway's actual cost)")
    create.add_argument("--period", choices=PERIODS, default="month", help="budget period (default month, UTC)")
    create.add_argument("--models", action="append", help="allowed model glob, e.g. 'gpt-4o*' (repeatable)")
    create.add_argument("--rpm", type=int, help="requests per minute")
    create.add_argument("--tpm", type=int, help="tokens per minute")
    create.set_defaults(run=_create)
    hashed = commands.add_parser("hash", help="print a key's SHA-256 (the config's key_sha256)")
    hashed.add_argument("key")
    hashed.set_defaults(run=lambda args: print(hash_key(args.key)))


def _create(args: argparse.Namespace) -> int:
    key = "gk-" + secrets.token_urlsafe(32)
    print(f"New key (shown once, store it now): {key}\n\nAdd under auth.keys in the gateway config:\n")
    print("\n".join(entry_yaml(args, hash_key(key))))
    return 0


def entry_yaml(args: argparse.Namespace, digest: str) -> list[str]:
    lines = [f"  - name: {_quote(args.name)}", f"    key_sha256: {digest}"]
    if args.tenant:
        lines.append(f"    tenant: {_quote(args.tenant)}")
    if args.models:
        lines.append("    models: [" + ", ".join(_quote(m) for m in args.models) + "]")
    if args.budget_usd is not None:
        lines.append(f"    budget: {{usd: {args.budget_usd:g}, period: {args.period}}}")
    rates = {"requests_per_minute": args.rpm, "tokens_per_minute": args.tpm}
    if any(rates.values()):
        lines.append("    limits: {" + ", ".join(f"{k}: {v}" for k, v in rates.items() if v) + "}")
    return lines


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
