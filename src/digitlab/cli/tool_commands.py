"""`serve`: the web page for a trained model."""

from pathlib import Path
from typing import Literal

import typer

from digitlab.cli.common import as_is_option, number_option, say, trust_code_option


def serve(
    model: Path = typer.Argument(..., help="The folder `train` wrote, or its model file."),
    host: str = typer.Option("127.0.0.1", help="Address to bind (0.0.0.0 exposes it to the network)."),
    port: int = number_option("port", 8000, "--port", help="Port to listen on (0: any free port)."),
    save_dir: Path = typer.Option(
        None, help="Let users save corrected drawings here, as DIR/<class name>/ (a digit's: DIR/<digit>/)."
    ),
    cors_origin: list[str] = typer.Option(None, help="Allow cross-origin requests from this origin."),
    engine: Literal["torch", "onnx"] = typer.Option(
        "torch", help="torch, or onnx (ONNX Runtime; needs the onnx extra)."
    ),
    batch_ms: float = number_option(
        "batch_ms",
        2.0,
        "--batch-ms",
        help="Milliseconds concurrent requests wait to share one model call (0: none).",
    ),
    allowed_hosts: str = typer.Option(
        None,
        help="Host names clients may use, comma-separated ('*': any); others get 400. "
        "Default: localhost, 127.0.0.1 and the --host address.",
    ),
    workers: int = number_option(
        "workers", 1, "--workers", help="Processes answering requests, each with its own model."
    ),
    log_json: bool = typer.Option(
        False, "--log-json", help="The access log and the server's own lines as one JSON object per line."
    ),
    max_batch: int = number_option(
        "max_batch",
        64,  # web.app's MAX_BATCH_FILES (not imported: help stays light; a test checks they agree)
        "--max-batch",
        help="Images one /api/predict/batch request may send (within the body size limit); more get 422.",
    ),
    access_log: bool = typer.Option(True, help="One line per request on stderr."),
    trust_code: bool = trust_code_option(),
    as_is: bool = as_is_option(),
):
    """The draw-a-digit web page and its JSON API (the schema at /openapi.json)."""
    import torch

    from digitlab.fileio import writable_folder
    from digitlab.inference.predictor import Predictor
    from digitlab.web.app import create_app, sample_folders
    from digitlab.web.safeguards import default_hosts
    from digitlab.web.server import listen, serve, serve_workers

    sock = listen(host, port)  # first: a port in use fails at once, with nothing else changed
    # then the model: a bad folder fails before any worker starts, and before this process changes
    try:
        predictor = Predictor.load(model, engine, trust_code, as_is)
        if save_dir is not None:
            writable_folder(save_dir)
            sample_folders(predictor.info.classes, save_dir)  # a class name that cannot be a folder's
    except BaseException:
        sock.close()
        raise
    torch.set_num_threads(1)  # the model runs beside the requests being decoded: no oversubscription
    hosts = (
        [h.strip() for h in allowed_hosts.split(",") if h.strip()] if allowed_hosts else default_hosts(host)
    )
    log = "json" if log_json else "text" if access_log else "none"
    settings = dict(save_dir=save_dir, cors_origins=cors_origin or None, batch_window=batch_ms / 1000,
                    allowed_hosts=hosts, log=log, max_batch=max_batch)  # fmt: skip
    address = f"[{host}]" if ":" in host else host  # an IPv6 address in a URL is in brackets
    each = f", {workers} worker processes" if workers > 1 else ""
    say(f"serving on http://{address}:{sock.getsockname()[1]}/{each}  (Ctrl+C stops)")
    if host in ("0.0.0.0", "::") and not allowed_hosts:
        say("note: other machines use a name or address: allow it with --allowed-hosts")
    if workers > 1:
        spec = {
            "model": str(model),
            "engine": engine,
            "trust_code": trust_code,
            "as_is": as_is,
            "app": settings,
        }
        serve_workers(spec, sock, workers)
    else:
        serve(create_app(predictor, **settings), sock, log_json)
