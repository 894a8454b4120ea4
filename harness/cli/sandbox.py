"""``python -m harness sandbox build|check``: build the Docker sandbox image, or say which
sandbox would be used and what it isolates (``sandboxes.image``, ``sandboxes.check``)."""

from __future__ import annotations

import json
import sys

from ..errors import UserError


def add_parser(sub) -> None:
    sb = sub.add_parser("sandbox", help="build or check the execution sandbox")
    sbsub = sb.add_subparsers(dest="action", required=True, metavar="ACTION")
    build = sbsub.add_parser("build", help="build the Docker sandbox image")
    build.add_argument("--method", choices=["auto", "dockerfile", "debootstrap"], default="auto",
                       help="auto: Dockerfile when a registry answers, else debootstrap + docker import")
    build.add_argument("--mirror", help="Debian mirror for debootstrap (default: the one apt uses)")
    sbsub.add_parser("check", help="which sandbox would be used and what it isolates")
    sb.set_defaults(handle=handle)


def handle(args) -> int:
    from sandboxes import image

    if args.action == "build":
        try:
            method = image.build_image(method=args.method, mirror=args.mirror,
                                       log=lambda m: print(m, file=sys.stderr))
        except (image.DockerUnavailable, RuntimeError) as exc:
            raise UserError(str(exc)) from None
        print(f"built {image.DEFAULT_IMAGE} ({method})")
        return 0
    from sandboxes.check import check

    report = check()
    for key, value in report.items():
        print(f"{key}: {json.dumps(value) if isinstance(value, (dict, list)) else value}")
    return 0
