"""`python -m tests.ops.route_dump ROUTES_FILE`: a worker exactly like `backoffice worker` that also
writes the routes its web server serves, read from its live aiohttp router, to ROUTES_FILE
(JSON [[method, pattern], ...], rewritten every half second). The door test enumerates these,
so a route nobody listed by hand (a Faust built-in, a new view) is still checked."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from workers.main import load_agents, worker_class


def main(routes_file: Path) -> None:
    app = load_agents()

    @app.timer(0.5)
    async def _write_routes() -> None:
        routes = sorted({(r.method, r.resource.canonical) for r in app.web.web_app.router.routes()
                         if r.resource is not None})
        tmp = routes_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(routes))
        os.replace(tmp, routes_file)

    worker_class()(app, loglevel="warn", quiet=True).execute_from_commandline()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
