"""Link hygiene: normalise user-supplied links and refuse schemes and hosts the crawler must
not reach (loopback, private, link-local and other non-public addresses)."""

import ipaddress
import re
import socket
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from llm_twin.application.crawlers.base import CrawlError

#: Schemes a link may use at all; each crawler accepts a subset.
ALLOWED_SCHEMES = frozenset({"http", "https", "git"})
#: Query parameters that only say where a reader came from (they never change the page).
TRACKING_PARAMS = frozenset(
    {"r", "ref", "ref_src", "ref_url", "source", "sk", "fbclid", "gclid", "dclid", "msclkid",
     "mc_cid", "mc_eid", "igshid", "yclid", "_hsenc", "_hsmi", "mkt_tok", "triedredirect",
     "showwelcome", "isfreemail", "cmpid"}
)  # fmt: skip
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hsa_", "oly_")


def is_tracking_param(name: str) -> bool:
    """True for a query parameter that only tracks the reader (``utm_source``, Substack's
    ``r``, Medium's ``source``…)."""
    lowered = name.lower()
    return lowered in TRACKING_PARAMS or lowered.startswith(TRACKING_PREFIXES)


def strip_tracking(query: str) -> str:
    """``query`` without tracking parameters (others kept, in order)."""
    if not query:
        return query
    pairs = parse_qsl(query, keep_blank_values=True)
    if not any(is_tracking_param(name) for name, _ in pairs):
        return query  # untouched: no re-encoding of a query we keep as is
    return urlencode([(name, value) for name, value in pairs if not is_tracking_param(name)])


#: ``scheme://user:password@`` at the start of a link (the user info, even when the rest of the
#: link does not parse).
_USER_INFO = re.compile(r"^(\s*[A-Za-z][A-Za-z0-9+.-]*://)[^/?#]*@")


def strip_credentials(link: str) -> str:
    """``link`` without its ``user:password@`` part: a link is logged, stored, put in step
    metadata and returned in answers' sources, so credentials never stay in it.

    Args:
        link: Any link, valid or not.
    """
    return _USER_INFO.sub(r"\1", link)


def normalize_link(link: str) -> str:
    """``link`` stripped of surrounding space, of credentials (``user:password@``), of its
    ``#fragment`` and of tracking parameters (``utm_*``, ``?r=``…); scheme and host lower-cased.
    This is the key documents are stored and skipped under (trailing slashes are kept: servers
    differ on them; discovery compares links with ``discovery.urls.link_key``, which also ignores
    them).

    Raises:
        CrawlError: ``invalid_link`` when it has no scheme or host, ``unsupported_scheme`` when
            the scheme is not http, https or git.
    """
    text = strip_credentials(link.strip())
    try:
        parts = urlsplit(text)
    except ValueError as error:
        raise CrawlError("invalid_link", f"not a valid URL: {text!r} ({error})") from None
    scheme = parts.scheme.lower()
    if scheme and scheme not in ALLOWED_SCHEMES:
        raise CrawlError(
            "unsupported_scheme",
            f"scheme {scheme!r} is not supported "
            f"(use one of: {', '.join(sorted(ALLOWED_SCHEMES))})",
        )
    if not scheme or not parts.hostname:
        raise CrawlError("invalid_link", f"not an absolute http(s)/git URL: {text!r}")
    query = strip_tracking(parts.query)
    return urlunsplit((scheme, parts.netloc.lower(), parts.path or "/", query, ""))


def is_public_address(address: str) -> bool:
    """True for a globally routable IP address."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_host_allowed(url: str, allow_private: bool) -> str:
    """Resolve ``url``'s host once and refuse it when it resolves to a non-public address,
    unless ``allow_private``; returns the address to connect to.

    This is the crawler's one egress policy: the HTTP fetcher and git connect to the returned
    address (no second resolution, so a name that changes its answer between the check and
    the connection, DNS rebinding, cannot reach a private host). Every address the host
    resolves to must be public, so a name that also points inside the network is refused too.

    Raises:
        CrawlError: ``private_network`` when refused, ``connection_error`` when the name does
            not resolve.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        infos = socket.getaddrinfo(host, parts.port or None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as error:
        raise CrawlError("connection_error", f"cannot resolve host {host!r}: {error}") from None
    addresses = [str(info[4][0]) for info in infos]
    private = sorted({address for address in addresses if not is_public_address(address)})
    if private and not allow_private:
        raise CrawlError(
            "private_network",
            f"{host} resolves to a non-public address ({', '.join(private)}); set "
            "CRAWL_ALLOW_PRIVATE_NETWORKS=true to crawl local or private hosts",
        )
    return addresses[0]
