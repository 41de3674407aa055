"""Webhook URLs are fetched by the server, so a budget editor must not be able to point
them at the server's own network (SSRF). check_url() is the one rule, applied when a
URL is saved; urlopen() applies it again on every POST, vetting the addresses as the
socket connects, so that a DNS answer changed since the save cannot slip through.

COSTWATCH_WEBHOOK_ALLOW_PRIVATE=1 turns the address check off for self-hosters whose
receiver is internal; the scheme, host and credentials checks stay."""

from __future__ import annotations

import http.client
import ipaddress
import socket
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from django.conf import settings

HINT = ("use a public http(s) URL, or set COSTWATCH_WEBHOOK_ALLOW_PRIVATE=1 "
        "for an internal receiver")
CARRIER_GRADE_NAT = ipaddress.ip_network("100.64.0.0/10")
NAT64 = ipaddress.ip_network("64:ff9b::/96")
PRIVATE = [ipaddress.ip_network(n) for n in
           ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7", "fec0::/10")]


class WebhookURLRefused(ValueError):
    """The server will not POST to this URL; the message says why and what to use."""


def check_url(url: str) -> None:
    """Raise WebhookURLRefused unless the server may POST to url."""
    host, port = host_and_port(url)
    vetted_addresses(host, port)


def host_and_port(url: str) -> tuple[str, int]:
    """The rules that need no DNS: http(s), a host, no user:password."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise WebhookURLRefused(f"webhook URL scheme “{scheme or '(none)'}” is not allowed; "
                                "use an http:// or https:// URL")
    if not parts.hostname:
        raise WebhookURLRefused("webhook URL has no host; use a full URL such as "
                                "https://hooks.example.com/…")
    if parts.username is not None or parts.password is not None:
        raise WebhookURLRefused("webhook URL contains a user name or password; remove it "
                                "(put a secret token in the path or query instead)")
    try:
        port = parts.port
    except ValueError:
        raise WebhookURLRefused("webhook URL has an invalid port; use a port from 1 to 65535 "
                                "or none") from None
    if port is None:
        port = 443 if scheme == "https" else 80
    return parts.hostname, port


def vetted_addresses(host: str, port: int) -> list[str]:
    """The addresses host resolves to; every one must be public (unless allowed)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise WebhookURLRefused(f"webhook URL host {host} does not resolve ({exc.strerror}); "
                                "use a host name this server can resolve") from None
    except UnicodeError:  # e.g. an empty label, "a..b"
        raise WebhookURLRefused(f"webhook URL host {host} is not a valid host name; "
                                "use a host name this server can resolve") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not settings.COSTWATCH_WEBHOOK_ALLOW_PRIVATE:
        for address in addresses:
            if kind := non_public(ipaddress.ip_address(address)):
                raise WebhookURLRefused(f"webhook URL resolves to {address}, {kind}; {HINT}")
    return addresses


def non_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """What makes ip unfit for a webhook, in words; "" for a public address."""
    if isinstance(ip, ipaddress.IPv6Address):
        # ::ffff:10.0.0.5 and (through a NAT64 gateway) 64:ff9b::a00:5 reach 10.0.0.5
        # 6to4 (2002::/16) and Teredo carry an IPv4 address that a relay reaches too
        if ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        elif ip.sixtofour:
            ip = ip.sixtofour
        elif ip.teredo:
            ip = ip.teredo[1]
        elif ip in NAT64:
            ip = ipaddress.IPv4Address(int(ip) & 0xFFFF_FFFF)
    kinds = [
        ("a loopback address", ip.is_loopback),
        ("an unspecified address", ip.is_unspecified),
        ("a link-local address (cloud metadata lives there)", ip.is_link_local),
        ("a multicast address", ip.is_multicast),
        ("a carrier-grade NAT address", ip in CARRIER_GRADE_NAT),
        ("a private address", any(ip in network for network in PRIVATE)),
        ("a reserved address", ip.is_reserved),
        # documentation, benchmarking, 0.0.0.0/8 and the other special-purpose ranges
        ("a special-purpose address", not ip.is_global),
    ]
    return next((kind for kind, matches in kinds if matches), "")


def _connect(address: tuple[str, int], timeout, source_address) -> socket.socket:
    """socket.create_connection() to an address vetted now, not to a fresh lookup."""
    host, port = address
    error: OSError | None = None
    for ip in vetted_addresses(host, port):
        try:
            return socket.create_connection((ip, port), timeout, source_address)
        except OSError as exc:
            error = exc
    raise error or OSError(f"cannot connect to {host}")


class _HTTPConnection(http.client.HTTPConnection):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._create_connection = _connect  # the socket factory http.client calls


class _HTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._create_connection = _connect  # TLS then wraps it, verifying the host name


class _HTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req):
        return self.do_open(_HTTPConnection, req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req):
        return self.do_open(_HTTPSConnection, req)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # A redirect would send the POST to a host nobody vetted (and urllib turns a
    # redirected POST into a GET without the body anyway).
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        raise urllib.error.HTTPError(
            req.full_url, code, f"{msg}, a redirect to {newurl}; redirects are not followed, "
            "set the webhook URL to the final address", headers, fp)


# These replace urllib's default handlers; ProxyHandler({}) ignores the *_proxy
# variables, as a proxy would do the connecting to addresses nobody vetted.
_opener = urllib.request.build_opener(_HTTPHandler, _HTTPSHandler, _NoRedirect,
                                      urllib.request.ProxyHandler({}))


def urlopen(request: urllib.request.Request, *, timeout: float):
    """urllib.request.urlopen for webhooks: check_url()'s rules, the addresses vetted as
    the socket connects; no redirect is followed; no proxy."""
    host_and_port(request.full_url)
    return _opener.open(request, timeout=timeout)
