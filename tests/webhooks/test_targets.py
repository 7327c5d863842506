"""Which addresses a webhook may go to: public ones, judged by every IPv4 address they carry."""

from ipaddress import IPv4Address, ip_address

import pytest

from app.webhooks.targets import embedded_ipv4, is_public

REFUSED = {
    # IPv4 that is not public.
    "127.0.0.1": "loopback",
    "10.1.2.3": "private",
    "169.254.169.254": "link-local, cloud metadata",
    "100.64.0.1": "shared address space",
    "0.0.0.0": "this network",  # noqa: S104 - an address refused, not one bound to
    "192.0.0.8": "IETF protocol assignments",
    "192.88.99.1": "6to4 relay anycast, deprecated",
    "224.0.0.1": "multicast",
    "255.255.255.255": "broadcast",
    # IPv6 that is not public.
    "::1": "loopback",
    "::": "unspecified",
    "fe80::1": "link-local",
    "fc00::1": "unique local",
    "fec0::1": "site-local, deprecated",
    "2001:db8::1": "documentation",
    "3fff::1": "documentation",
    "5f00::1": "segment routing",
    "ff02::1": "multicast",
    # IPv6 spellings of IPv4 addresses that are not public.
    "::127.0.0.1": "IPv4-compatible loopback",
    "::a9fe:a9fe": "IPv4-compatible link-local",
    "::ffff:127.0.0.1": "IPv4-mapped loopback",
    "::ffff:10.0.0.1": "IPv4-mapped private",
    "::ffff:0:7f00:1": "SIIT loopback",
    "::ffff:0:a9fe:a9fe": "SIIT link-local",
    "64:ff9b::a9fe:a9fe": "NAT64 link-local",
    "64:ff9b::7f00:1": "NAT64 loopback",
    "64:ff9b::a00:1": "NAT64 private",
    "64:ff9b:1::a9fe:a9fe": "NAT64 for local use",
    "64:ff9b:1::101:101": "NAT64 for local use, even of a public address",
    "2002:7f00:1::": "6to4 of loopback",
    "2002:a9fe:a9fe::1": "6to4 of link-local",
    "2002:c0a8:1::1": "6to4 of private",
    "2001:0:4136:e378:8000:63bf:80ff:fffe": "Teredo, client 127.0.0.1",
    "2001:0:a00:1:8000:63bf:3fff:fdd2": "Teredo, server 10.0.0.1",
}

ACCEPTED = {
    "1.1.1.1": "public",
    "93.184.216.34": "public",
    "8.8.8.8": "public",
    "2606:4700:4700::1111": "public",
    "2001:4860:4860::8888": "public",
    "2a00:1450:4009:81f::200e": "public",
    "64:ff9b::101:101": "NAT64 of a public address",
    "2002:101:101::1": "6to4 of a public address",
    "::ffff:1.1.1.1": "IPv4-mapped public",
}


class TestIsPublic:
    @pytest.mark.parametrize("address", REFUSED, ids=[f"{a} {why}" for a, why in REFUSED.items()])
    def test_refuses(self, address: str) -> None:
        assert not is_public(ip_address(address))

    @pytest.mark.parametrize("address", ACCEPTED, ids=[f"{a} {why}" for a, why in ACCEPTED.items()])
    def test_accepts(self, address: str) -> None:
        assert is_public(ip_address(address))


class TestEmbeddedIpv4:
    @pytest.mark.parametrize(
        ("address", "inside"),
        [
            ("::127.0.0.1", ["127.0.0.1"]),
            ("::ffff:127.0.0.1", ["127.0.0.1"]),
            ("::ffff:0:7f00:1", ["127.0.0.1"]),
            ("64:ff9b::a9fe:a9fe", ["169.254.169.254"]),
            ("2002:7f00:1::", ["127.0.0.1"]),
            ("2001:0:4136:e378:8000:63bf:80ff:fffe", ["65.54.227.120", "127.0.0.1"]),
            ("2606:4700:4700::1111", []),
        ],
    )
    def test_finds_every_ipv4_address_inside(self, address: str, inside: list[str]) -> None:
        assert set(embedded_ipv4(ip_address(address))) == {IPv4Address(a) for a in inside}
