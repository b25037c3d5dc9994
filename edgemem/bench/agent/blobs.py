"""The content-addressed blob store: ``blobs/<sha256>``, checked on upload and before every use.

Uploads are written to a temporary name, checked against their hash and renamed; ``have``
re-hashes what is there and removes a blob whose content no longer matches its name (so the
host uploads it again); a run re-hashes each blob before using it. Built TensorRT engines carry
a ``.sha256`` sidecar written when they were built and are rebuilt when it does not match.
Everything is created readable by this user only (0700 folders, 0600 files).
"""

import hashlib
import os

from .common import AgentFailure, disk_full, private_dir, sha256_file
from .wire import SHA256


def blob_path(base, sha):
    if not SHA256.match(sha or ""):
        raise AgentFailure("bad_spec", "not a sha256: %r" % (sha,))
    return os.path.join(base, "blobs", sha)


def remove(path):
    try:
        os.unlink(path)
    except OSError:
        pass


def put_blob(base, sha, stream):
    """Store ``stream`` as blob ``sha`` after checking its hash; write to a temp name, then rename."""
    final = blob_path(base, sha)
    private_dir(os.path.dirname(final))
    tmp = "%s.tmp.%d" % (final, os.getpid())
    digest = hashlib.sha256()
    size = 0
    try:
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as handle:
            for chunk in iter(lambda: stream.read(1 << 20), b""):
                digest.update(chunk)
                handle.write(chunk)
                size += len(chunk)
            handle.flush()
            os.fsync(handle.fileno())
    except (IOError, OSError) as exc:
        remove(tmp)
        raise disk_full(exc, "blob %s (%d bytes written)" % (sha[:12], size))
    if digest.hexdigest() != sha:
        remove(tmp)
        raise AgentFailure("bad_spec", "upload corrupted: got sha256 %s, expected %s" % (digest.hexdigest(), sha))
    os.rename(tmp, final)
    return {"sha256": sha, "bytes": size, "path": os.path.abspath(final)}


def have(base, shas):
    """Which blobs are there with the right content; ones that are not are removed and named."""
    present, corrupt = [], []
    for sha in shas:
        path = blob_path(base, sha)
        if not os.path.isfile(path):
            continue
        if sha256_file(path) == sha:
            os.chmod(path, 0o600)
            present.append(sha)
        else:
            remove(path)
            corrupt.append(sha)
    return {"present": present, "corrupt": corrupt}


def verified_blob(base, sha, what, stage="prepare"):
    """The blob's path after checking its content against its name (a modified blob is refused)."""
    path = blob_path(base, sha)
    if not os.path.isfile(path):
        raise AgentFailure("bad_spec", "%s blob %s is not uploaded" % (what, sha), stage)
    if sha256_file(path) != sha:
        remove(path)
        raise AgentFailure("integrity", "%s blob %s on the device does not match its hash (modified after upload); "
                           "removed it, refusing to use it" % (what, sha[:16]), stage)
    return os.path.abspath(path)


def verified_engine(path):
    """True when the cached engine matches the hash recorded when it was built (else it is removed)."""
    recorded = path + ".sha256"
    if not os.path.isfile(path) or not os.path.isfile(recorded):
        return False
    with open(recorded) as handle:
        want = handle.read().strip()
    if sha256_file(path) == want:
        return True
    remove(path)
    remove(recorded)
    return False


def record_engine(tmp, path):
    """Move a freshly built engine into the cache with its hash beside it."""
    digest = sha256_file(tmp)
    with os.fdopen(os.open(path + ".sha256.tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as handle:
        handle.write(digest + "\n")
    os.rename(tmp, path)
    os.rename(path + ".sha256.tmp", path + ".sha256")
    return digest


def secure_base(base):
    """The agent's folders 0700 and its files 0600 (an older agent left them world-readable)."""
    private_dir(base)
    for sub in ("blobs", "runs", "engines"):
        folder = os.path.join(base, sub)
        if os.path.isdir(folder):
            os.chmod(folder, 0o700)
    for sub in ("blobs", "engines"):
        folder = os.path.join(base, sub)
        for name in os.listdir(folder) if os.path.isdir(folder) else ():
            path = os.path.join(folder, name)
            if os.path.isfile(path) and not os.path.islink(path):
                os.chmod(path, 0o600)
