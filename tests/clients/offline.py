#!/usr/bin/env python3
"""Run the Python STAC client tools without Internet access.

stac-validator, stac-check, stac-api-validator and pystac all download JSON Schemas
from https://schemas.stacspec.org, https://stac-extensions.github.io, https://geojson.org
and http://json-schema.org. CI has no Internet, so this module

* answers every schema URL from a local directory laid out as ``<host>/<path>``
  (``$STAC_SCHEMA_DIR``, default ``<repo>/../shared/schemas``); a schema that is not
  in the directory raises :class:`SchemaNotStored` naming the URL and the file it looked
  for, instead of a network error;
* refuses every other connection to a host that is not loopback (``localhost``,
  ``127.0.0.0/8``, ``::1``), at name-resolution time, so that asset hrefs such as
  ``https://data.example/...`` fail at once instead of waiting for DNS. Extra hosts can be
  allowed with ``STAC_OFFLINE_ALLOWED_HOSTS=host1,host2``; the host of ``--root-url`` is
  allowed automatically by the command-line entry point.

Patched functions (the only places where those tools fetch schemas):

* ``stac_validator.utilities.fetch_and_parse_file`` - called through
  ``fetch_and_parse_schema`` (lru-cached) for the core schema chosen by
  ``set_schema_addr`` and for every ``stac_extensions`` URL, and by the
  ``referencing.Registry`` retriever for every ``$ref``. stac-check and
  stac-api-validator validate through this module too.
* ``pystac.validation.stac_validator.JsonSchemaSTACValidator._get_schema`` - used by
  ``STACObject.validate()`` / ``pystac.validation.validate_dict`` and its ``$ref``
  registry (stac-api-validator ends with ``Client.open(root).validate()``).
* ``socket.getaddrinfo`` - the common choke point of requests/urllib3/urllib.

Library use::

    import offline
    offline.install()            # idempotent; returns the schema directory

Command line (same arguments as the wrapped tools)::

    python tests/clients/offline.py stac-api-validator --root-url http://127.0.0.1:8080 ...
    python tests/clients/offline.py stac-validator validate ../shared/data/stac/.../item.json
    python tests/clients/offline.py stac-check item.json
    python tests/clients/offline.py pystac-validate item.json [more.json ...]

Unlike the plain ``stac-api-validator`` console script, the wrapped one exits 1 when the
validator itself crashes (the original prints "Failed." and exits 0 because click's
standalone mode ignores the command's return value).
"""
from __future__ import annotations

import ipaddress
import json
import os
import socket
import sys
import urllib.parse
from typing import Any, Iterable

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(HERE))

# Hosts whose URLs are JSON Schemas; they are never fetched from the network.
SCHEMA_HOSTS = frozenset(
    {
        "schemas.stacspec.org",
        "stac-extensions.github.io",
        "geojson.org",
        "json-schema.org",
        "api.stacspec.org",
        "cdn.staclint.com",
    }
)

_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})
_PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")

_allowed_hosts: set[str] = set()
_installed = False
_orig_getaddrinfo = socket.getaddrinfo


class SchemaNotStored(FileNotFoundError):
    """A schema URL has no file in the local schema directory."""


class OfflineRefused(socket.gaierror):
    """A connection to a non-loopback host was refused by this module."""


# --------------------------------------------------------------------------- schemas
def schema_dir() -> str:
    d = os.environ.get("STAC_SCHEMA_DIR") or os.path.join(REPO_ROOT, "..", "shared", "schemas")
    return os.path.normpath(os.path.abspath(d))


def is_schema_url(url: Any) -> bool:
    if not isinstance(url, str):
        return False
    u = urllib.parse.urlsplit(url)
    return u.scheme in ("http", "https") and (u.hostname or "").lower() in SCHEMA_HOSTS


def schema_file_for(url: str) -> str:
    """Local path for a schema URL (scheme, query and fragment dropped)."""
    u = urllib.parse.urlsplit(url)
    path = urllib.parse.unquote(u.path).lstrip("/")
    full = os.path.normpath(os.path.join(schema_dir(), (u.hostname or "").lower(), path))
    if not full.startswith(schema_dir() + os.sep):
        raise SchemaNotStored(f"offline: refusing schema path outside the store for {url}")
    return full


def load_schema(url: str) -> dict:
    """The stored JSON document for ``url``; SchemaNotStored if there is none."""
    path = schema_file_for(url)
    if not os.path.isfile(path):
        raise SchemaNotStored(
            f"offline: schema {url} is not in the local store (looked for {path}); "
            f"add it under {schema_dir()} or set STAC_SCHEMA_DIR"
        )
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def stored_schema_urls() -> Iterable[str]:
    """Every URL the store can answer (https, plus http for json-schema.org)."""
    root = schema_dir()
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            rel = os.path.relpath(os.path.join(dirpath, name), root).replace(os.sep, "/")
            host = rel.split("/", 1)[0]
            if host not in SCHEMA_HOSTS:
                continue
            yield ("http://" if host == "json-schema.org" else "https://") + rel


# --------------------------------------------------------------------------- network
def _host_allowed(host: str) -> bool:
    h = host.strip("[]").split("%", 1)[0].rstrip(".").lower()
    if not h or h in _LOOPBACK_NAMES or h.endswith(".localhost") or h in _allowed_hosts:
        return True
    try:
        return ipaddress.ip_address(h).is_loopback
    except ValueError:
        return False


def _guarded_getaddrinfo(host, port, *args, **kwargs):  # noqa: ANN001, ANN202
    if host is not None:
        name = host.decode("idna") if isinstance(host, (bytes, bytearray)) else str(host)
        if not _host_allowed(name):
            raise OfflineRefused(
                socket.EAI_NONAME,
                f"offline: connection to non-loopback host {name!r} refused "
                "(tests/clients/offline.py; allow it with STAC_OFFLINE_ALLOWED_HOSTS)",
            )
    return _orig_getaddrinfo(host, port, *args, **kwargs)


def allow_hosts(*hosts_or_urls: str | None) -> None:
    """Allow connections to these hosts (bare names or URLs)."""
    for h in hosts_or_urls:
        if not h:
            continue
        if "://" in h:
            h = urllib.parse.urlsplit(h).hostname or ""
        h = h.strip().strip("[]").lower()
        if h:
            _allowed_hosts.add(h)


# --------------------------------------------------------------------------- patches
def _patch_stac_validator() -> None:
    try:
        import stac_validator.utilities as svu
    except ImportError:
        return
    if getattr(svu.fetch_and_parse_file, "_tuilerie_offline", False):
        return
    original = svu.fetch_and_parse_file

    def fetch_and_parse_file(input_path, headers=None):  # noqa: ANN001, ANN202
        if is_schema_url(input_path):
            return load_schema(input_path)
        return original(input_path, headers)

    fetch_and_parse_file._tuilerie_offline = True  # type: ignore[attr-defined]
    svu.fetch_and_parse_file = fetch_and_parse_file
    # drop anything a previous (online) call may have cached
    for cache in ("_schema_cache", "_validator_cache"):
        fn = getattr(svu, cache, None)
        if fn is not None and hasattr(fn, "cache_clear"):
            fn.cache_clear()


def _patch_pystac() -> None:
    try:
        from pystac.validation.stac_validator import GetSchemaError, JsonSchemaSTACValidator
    except ImportError:
        return
    if getattr(JsonSchemaSTACValidator._get_schema, "_tuilerie_offline", False):
        return
    original = JsonSchemaSTACValidator._get_schema

    def _get_schema(self, schema_uri: str) -> dict:  # noqa: ANN001
        if schema_uri not in self.schema_cache and is_schema_url(schema_uri):
            try:
                self.schema_cache[schema_uri] = load_schema(schema_uri)
            except SchemaNotStored as e:
                raise GetSchemaError(schema_uri, e) from e
        return original(self, schema_uri)

    _get_schema._tuilerie_offline = True  # type: ignore[attr-defined]
    JsonSchemaSTACValidator._get_schema = _get_schema


def install(extra_allowed_hosts: Iterable[str] = ()) -> str:
    """Install all patches (idempotent). Returns the schema directory in use."""
    global _installed
    allow_hosts(*[h for h in os.environ.get("STAC_OFFLINE_ALLOWED_HOSTS", "").split(",") if h.strip()])
    allow_hosts(*extra_allowed_hosts)
    if not _installed:
        if not os.path.isdir(schema_dir()):
            print(f"offline.py: warning: schema directory {schema_dir()} does not exist", file=sys.stderr)
        # a proxy would turn every request into a connection to the proxy host: the tests
        # only talk to the server under test, directly.
        for var in _PROXY_VARS:
            os.environ.pop(var, None)
        os.environ["NO_PROXY"] = os.environ["no_proxy"] = "*"
        socket.getaddrinfo = _guarded_getaddrinfo
        _installed = True
    _patch_stac_validator()
    _patch_pystac()
    return schema_dir()


# --------------------------------------------------------------------------- CLI
def _root_url_from(args: list[str]) -> str | None:
    for i, a in enumerate(args):
        if a == "--root-url" and i + 1 < len(args):
            return args[i + 1]
        if a.startswith("--root-url="):
            return a.split("=", 1)[1]
    return None


def _run_click(command: Any, prog: str, args: list[str]) -> int:
    import click

    try:
        rv = command.main(args=args, prog_name=prog, standalone_mode=False)
    except click.exceptions.Exit as e:
        return e.exit_code
    except click.ClickException as e:
        e.show()
        return e.exit_code
    except click.exceptions.Abort:
        return 1
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    return rv if isinstance(rv, int) else 0


def _pystac_validate(paths: list[str]) -> int:
    import pystac.validation

    bad = 0
    for p in paths:
        try:
            if "://" in p:
                d = json.loads(pystac.StacIO.default().read_text(p))
            else:
                with open(p, encoding="utf-8") as fh:
                    d = json.load(fh)
            docs = d.get("features", [d]) if d.get("type") == "FeatureCollection" else [d]
            for doc in docs:
                uris = pystac.validation.validate_dict(doc, href=p if "://" in p else None)
                print(f"valid   {p} {doc.get('id', '')} {' '.join(uris)}")
        except Exception as e:  # noqa: BLE001
            bad += 1
            print(f"INVALID {p}: {type(e).__name__}: {e}")
    return 1 if bad else 0


TOOLS = ("stac-api-validator", "stac-validator", "stac-check", "pystac-validate")


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in TOOLS:
        print(__doc__)
        print("tools:", ", ".join(TOOLS))
        return 2
    tool, rest = argv[0], argv[1:]
    install([_root_url_from(rest) or ""])
    if tool == "stac-api-validator":
        from stac_api_validator.__main__ import main as cmd

        return _run_click(cmd, tool, rest)
    if tool == "stac-validator":
        from stac_validator.stac_validator import cli as cmd  # group: validate | batch

        return _run_click(cmd, tool, rest)
    if tool == "stac-check":
        from stac_check.cli import main as cmd

        return _run_click(cmd, tool, rest)
    return _pystac_validate(rest)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
