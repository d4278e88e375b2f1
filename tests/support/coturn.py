"""A real coturn (`turnserver`) started by a test, with a generated config; no systemd, no files outside tmp.

    with run_coturn(tmp_path, listen="127.0.0.1", secret="s3cret") as turn:
        turn.url("udp")  # turn:127.0.0.1:<port>?transport=udp

It speaks the shared-secret scheme (`use-auth-secret`), listens for TURN over UDP and TCP on one port and TURN over
TLS on another (a self-signed certificate made here), relays on a small port range, and only ever relays to the
addresses the test allows (`allowed_peers`; loopback and private ranges are refused by coturn unless allowed).
`prefix` runs it inside a network namespace (`["ip", "netns", "exec", name]`). The process is killed at exit,
whatever happened; its log stays in `turn.log_path` for the failure message.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import ipaddress
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.support import free_port

TURNSERVER = "/usr/bin/turnserver"
STARTUP_TIMEOUT_S = 10.0
REALM = "voice.test"


@dataclass
class Coturn:
    host: str
    port: int
    tls_port: int
    secret: str
    log_path: Path
    process: subprocess.Popen[bytes]

    def url(self, transport: str = "udp") -> str:
        if transport == "tls":
            return f"turns:{self.host}:{self.tls_port}?transport=tcp"
        return f"turn:{self.host}:{self.port}?transport={transport}"

    @property
    def spki_sha256(self) -> str:
        """base64 SHA-256 of the TLS certificate's public key (Chromium's --ignore-certificate-errors-spki-list)."""
        cert = x509.load_pem_x509_certificate((self.log_path.parent / "turn-cert.pem").read_bytes())
        spki = cert.public_key().public_bytes(serialization.Encoding.DER,
                                              serialization.PublicFormat.SubjectPublicKeyInfo)
        return base64.b64encode(hashlib.sha256(spki).digest()).decode()

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""


def self_signed_certificate(directory: Path, name: str) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(name))]), critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "turn-cert.pem", directory / "turn-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def coturn_config_lines(*, listen: str = "127.0.0.1", port: int = 3478, tls_port: int = 5349,
                        relay_ports: tuple[int, int] = (49160, 49359), secret: str = "-", cert: Path = Path("cert"),
                        key: Path = Path("key"), directory: Path = Path("."), allowed_peers: Sequence[str] = (),
                        external: str = "") -> list[str]:
    """The turnserver.conf lines the tests run coturn with (docker-compose.yml sets the same options)."""
    lines = [
        f"listening-ip={listen}", f"relay-ip={listen}", f"listening-port={port}", f"tls-listening-port={tls_port}",
        "alt-listening-port=0", "alt-tls-listening-port=0",
        f"min-port={relay_ports[0]}", f"max-port={relay_ports[1]}",
        "use-auth-secret", f"static-auth-secret={secret}", f"realm={REALM}", "fingerprint",
        f"cert={cert}", f"pkey={key}", "no-dtls", "no-cli", "no-software-attribute", "no-rfc5780",
        "no-stun-backward-compatibility", "simple-log", f"log-file={directory / 'turnserver.log'}",
        f"pidfile={directory / 'turnserver.pid'}", f"userdb={directory / 'turndb.sqlite'}",
        "no-multicast-peers", "verbose",
    ]
    if external:
        lines.append(f"external-ip={external}")
    if any(p.startswith("127.") for p in allowed_peers):
        lines.append("allow-loopback-peers")
    lines += [f"allowed-peer-ip={peer}" for peer in allowed_peers]
    return lines


def _config(directory: Path, *, listen: str, port: int, tls_port: int, relay_ports: tuple[int, int], secret: str,
            allowed_peers: Sequence[str], external: str) -> Path:
    cert, key = self_signed_certificate(directory, listen)
    lines = coturn_config_lines(listen=listen, port=port, tls_port=tls_port, relay_ports=relay_ports, secret=secret,
                                cert=cert, key=key, directory=directory, allowed_peers=allowed_peers,
                                external=external)
    path = directory / "turnserver.conf"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _port_open(host: str, port: int, prefix: Sequence[str]) -> bool:
    if prefix:  # inside a namespace: ask from there
        probe = [*prefix, "python3", "-c",
                 f"import socket; socket.create_connection(({host!r}, {port}), timeout=0.5).close()"]
        return subprocess.run(probe, capture_output=True, timeout=5).returncode == 0
    try:
        socket.create_connection((host, port), timeout=0.5).close()
        return True
    except OSError:
        return False


@contextmanager
def run_coturn(directory: Path, *, listen: str = "127.0.0.1", secret: str, allowed_peers: Sequence[str] = (),
               prefix: Sequence[str] = (), external: str = "", port: int = 0, tls_port: int = 0) -> Iterator[Coturn]:
    directory.mkdir(parents=True, exist_ok=True)
    port, tls_port = port or free_port(), tls_port or free_port()
    relay_low = free_port()
    relay_ports = (relay_low, relay_low + 20) if relay_low < 65000 else (relay_low - 20, relay_low)
    config = _config(directory, listen=listen, port=port, tls_port=tls_port, relay_ports=relay_ports, secret=secret,
                     allowed_peers=allowed_peers or (listen,), external=external)
    output = directory / "turnserver.out"
    with output.open("wb") as sink:
        process = subprocess.Popen([*prefix, TURNSERVER, "-c", str(config)], stdout=sink, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL)
    turn = Coturn(listen, port, tls_port, secret, directory / "turnserver.log", process)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not (_port_open(listen, port, prefix) and _port_open(listen, tls_port, prefix)):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"turnserver did not start:\n{output.read_text(errors='replace')[-2000:]}"
                                   f"\n{turn.log_text()[-2000:]}")
            time.sleep(0.05)
        yield turn
    finally:
        process.kill()
        process.wait(timeout=10)
