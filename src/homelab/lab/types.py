"""Domain types shared by the models: byte sizes, CIDRs, IP ranges, versions."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, PlainSerializer, WithJsonSchema
from pydantic import BaseModel as _PydanticBase

_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGTP]?)(i?)(B?)\s*$", re.IGNORECASE)
_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4, "P": 1024**5}

GIB = 1024**3
MIB = 1024**2


class Model(_PydanticBase):
    """Base for every lab-file model: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


def parse_size(value: Any) -> int:
    """'2GiB', '2GB', '2G', '100Gi', '1TB' -> bytes. Units are binary, as Proxmox and Kubernetes use them."""
    if isinstance(value, bool):
        raise ValueError("expected a size such as 4GiB or 100G, not true/false")
    if isinstance(value, int):
        raise ValueError(f"a bare number ({value}) is ambiguous; write it with a unit, e.g. {value}MiB or {value}GiB")
    if not isinstance(value, str):
        raise ValueError("expected a size such as 4GiB or 100G")
    match = _SIZE_RE.match(value)
    if not match:
        raise ValueError(f"{value!r} is not a size; write a number and a unit, e.g. 8GiB, 512MiB, 1TiB")
    number, unit, _, _ = match.groups()
    result = float(number) * _UNITS[unit.upper()]
    if result <= 0:
        raise ValueError("a size must be greater than zero")
    return int(result)


def format_size(n: int) -> str:
    for unit, factor in (("TiB", 1024**4), ("GiB", GIB), ("MiB", MIB), ("KiB", 1024)):
        if n >= factor and n % factor == 0:
            return f"{n // factor}{unit}"
    return f"{n}B"


# In the lab file a size is a string with a unit ("8GiB"); the JSON Schema says so, for editors.
_SIZE_SCHEMA = {"type": "string", "pattern": r"^\s*\d+(\.\d+)?\s*[KMGTPkmgtp]?[iI]?[bB]?\s*$",
                "examples": ["8GiB", "512MiB", "1TiB"]}
ByteSize = Annotated[int, BeforeValidator(parse_size), PlainSerializer(format_size, return_type=str),
                     WithJsonSchema(_SIZE_SCHEMA, mode="validation")]


def _cidr(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("expected a network in CIDR form, e.g. 192.168.10.0/24")
    try:
        net = ipaddress.IPv4Network(value, strict=True)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not an IPv4 network in CIDR form ({exc})") from None
    return str(net)


Cidr = Annotated[str, BeforeValidator(_cidr)]


def _ipv4(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("expected an IPv4 address, e.g. 192.168.10.71")
    try:
        return str(ipaddress.IPv4Address(value))
    except ValueError:
        raise ValueError(f"{value!r} is not an IPv4 address") from None


IPv4 = Annotated[str, BeforeValidator(_ipv4)]


def parse_range(value: str) -> tuple[ipaddress.IPv4Address, ipaddress.IPv4Address]:
    if "-" in value:
        first, last = (part.strip() for part in value.split("-", 1))
        lo, hi = ipaddress.IPv4Address(first), ipaddress.IPv4Address(last)
    else:
        net = ipaddress.IPv4Network(value, strict=True)
        lo, hi = net[0], net[-1]
    if lo > hi:
        raise ValueError(f"range {value!r} ends before it starts")
    return lo, hi


def _range(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("expected an address range 'FIRST-LAST' or a CIDR, e.g. 192.168.10.200-192.168.10.250")
    try:
        lo, hi = parse_range(value)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not an address range ({exc})") from None
    return f"{lo}-{hi}"


IpRange = Annotated[str, BeforeValidator(_range)]

_NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


def _dns_label(value: Any) -> str:
    if not isinstance(value, str) or not _NAME_RE.match(value):
        raise ValueError(
            f"{value!r} is not a valid name: use lower-case letters, digits and '-', "
            "start and end with a letter or digit, at most 63 characters"
        )
    return value


DnsLabel = Annotated[str, AfterValidator(_dns_label)]
"""Names that become Kubernetes objects or Vault policy names (namespaces, apps, policies)."""

NonEmptyStr = Annotated[str, Field(min_length=1)]
Port = Annotated[int, Field(ge=1, le=65535)]
