"""The agent's command line. Every command but ``pack`` and ``worker`` ends with exactly one
``EDGEMEM-RESULT <json>`` line; the process exits with the ERROR_EXIT status of its error.

    hello [--lock-file F]          version and whether a run of this user holds the device
    have SHA256...                 which blobs are there, intact (corrupt ones are removed)
    put --sha256 H                 store stdin as blob H (verified, atomic)
    probe [--tools J] [--modules M]   what the device has
    start --spec FILE|- [--lock-wait S] [--lock-file F]   start a run detached from this connection
    follow --run-id ID [--offset N]   its progress until its result (or a fault)
    run --spec FILE|-              start and follow in one command
    cancel --run-id ID --code C --message M [--grace S]   stop it; its partial result
    ack --run-id ID                the host saved the result; the run may be pruned later
    pack --run-id ID               the run's raw files as tar.gz on stdout
"""

import argparse
import io
import json
import os
import sys
import tarfile

from .blobs import have, put_blob, secure_base
from .cancel import command_cancel
from .common import AgentFailure, disk_full, emit
from .folder import RunFolder
from .follow import ReaderGone, command_follow, follow
from .lock import DeviceLock, stale
from .probe import probe
from .procs import alive
from .supervise import command_start, command_supervise
from .worker import worker_main
from .wire import AGENT_VERSION, ERROR_EXIT, ERROR_SCHEMA, RESULT_PREFIX


def command_hello(args):
    holder = DeviceLock(args.lock_file).holder()
    busy = holder if holder and not stale(holder) and alive(holder.get("supervisor_pid") or 0) else None
    return {"schema": "edgemem.bench.hello/1", "agent_version": AGENT_VERSION, "base": args.base,
            "python": sys.version.split()[0], "busy": busy}


def command_have(args):
    return dict(have(args.base, args.sha256), schema="edgemem.bench.have/1")


def command_put(args):
    return dict(put_blob(args.base, args.sha256, getattr(sys.stdin, "buffer", sys.stdin)), schema="edgemem.bench.put/1")


def command_probe(args):
    return probe(json.loads(args.tools), modules=args.modules.split(",") if args.modules else None)


def command_run(args):
    state = command_start(args)
    return follow(args.base, state["run_id"], 0, float(args.stall_s))


def command_ack(args):
    folder = RunFolder.existing(args.base, args.run_id)
    if folder.result() is None:
        raise AgentFailure("bad_spec", "run %s has no result yet; nothing to acknowledge" % args.run_id)
    folder.mark_fetched()
    return {"schema": "edgemem.bench.ack/1", "run_id": args.run_id, "fetched": True}


def command_pack(args):
    folder = RunFolder.existing(args.base, args.run_id)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name in folder.artifacts():
            path = folder.path(name)
            if os.path.isfile(path) and not os.path.islink(path):
                archive.add(path, arcname=name, recursive=False)
    out = getattr(sys.stdout, "buffer", sys.stdout)
    out.write(buffer.getvalue())
    out.flush()


COMMANDS = {"hello": command_hello, "have": command_have, "put": command_put, "probe": command_probe,
            "start": command_start, "follow": command_follow, "run": command_run, "cancel": command_cancel,
            "ack": command_ack, "supervise": command_supervise}
LOCK_FILE = ("--lock-file", {"default": None})
OPTIONS = {
    "hello": [LOCK_FILE],
    "have": [("sha256", {"nargs": "*"})],
    "put": [("--sha256", {"required": True})],
    "probe": [("--tools", {"default": "{}"}), ("--modules", {"default": None})],
    "start": [("--spec", {"default": "-"}), ("--lock-wait", {"default": 0.0, "type": float}), LOCK_FILE],
    "run": [("--spec", {"default": "-"}), ("--lock-wait", {"default": 0.0, "type": float}), LOCK_FILE,
            ("--stall-s", {"default": 60.0, "type": float})],
    "follow": [("--run-id", {"required": True}), ("--offset", {"default": 0, "type": int}),
               ("--stall-s", {"default": 60.0, "type": float})],
    "cancel": [("--run-id", {"required": True}), ("--code", {"default": "cancelled"}),
               ("--message", {"default": "cancelled by the host"}), ("--grace", {"default": 5.0, "type": float})],
    "ack": [("--run-id", {"required": True})],
    "pack": [("--run-id", {"required": True})],
    "supervise": [("--run-id", {"required": True}), ("--lock-fd", {"required": True, "type": int})],
    "worker": [("--job", {"required": True})],
}


def parser():
    top = argparse.ArgumentParser(prog="edgemem-agent", description="edgemem device agent %s" % AGENT_VERSION)
    sub = top.add_subparsers(dest="command")
    for name in sorted(set(COMMANDS) | set(OPTIONS)):
        command = sub.add_parser(name)
        command.add_argument("--base", default=os.path.join(os.path.expanduser("~"), ".cache", "edgemem"))
        for flag, settings in OPTIONS.get(name, ()):
            command.add_argument(flag, **settings)
    return top


def error_document(failure):
    return {"schema": ERROR_SCHEMA, "agent_version": AGENT_VERSION, "status": "error", "error": failure.document()}


def exit_status(document):
    if document.get("status") == "fault":
        return ERROR_EXIT["agent_fault"]
    if document.get("status") == "error":
        return ERROR_EXIT.get((document.get("error") or {}).get("code"), ERROR_EXIT["internal"])
    return 0


def dispatch(args):
    """The command's document; every failure becomes an error document."""
    try:
        secure_base(args.base)
        return COMMANDS[args.command](args)
    except AgentFailure as exc:
        return error_document(exc)
    except (IOError, OSError) as exc:
        failure = disk_full(exc, "under %s" % args.base)
        if not isinstance(failure, AgentFailure):
            failure = AgentFailure("internal", "%s: %s" % (type(exc).__name__, exc))
        return error_document(failure)


def main(argv=None):
    os.umask(0o077)  # everything the agent creates is this user's only: folders 0700, files 0600
    args = parser().parse_args(argv)
    if args.command is None:
        parser().print_help(sys.stderr)
        return ERROR_EXIT["bad_spec"]
    args.base = os.path.abspath(os.path.expanduser(args.base))  # children run in their run folder
    if args.command == "worker":
        return worker_main(args.job)
    if args.command == "pack":
        try:
            command_pack(args)
            return 0
        except AgentFailure as exc:
            sys.stderr.write("edgemem-agent: %s\n" % exc.message)
            return ERROR_EXIT[exc.code]
    try:
        document = dispatch(args)
    except ReaderGone:
        return 0
    emit(RESULT_PREFIX, document)
    return exit_status(document)
