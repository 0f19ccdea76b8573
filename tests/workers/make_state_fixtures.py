"""Write the state fixtures: each sample value of tests/workers/state_samples.py encoded with the
current version of its schema, as tests/workers/state_fixtures/<name>.v<N>.bin.

Run once per new schema version (`python -m tests.workers.make_state_fixtures`) and commit the
files with it: an existing fixture is never rewritten, since it stands for state that a released
worker wrote and that every later release must still load (tests/workers/test_state_codec.py)."""
from __future__ import annotations

import sys
from pathlib import Path

FIXTURES = Path(__file__).with_name("state_fixtures")


def main() -> int:
    from tests.workers.state_samples import SAMPLES
    from workers.state import REGISTRY, dumps

    FIXTURES.mkdir(exist_ok=True)
    for name, sample in sorted(SAMPLES.items()):
        path = FIXTURES / f"{name}.v{REGISTRY.schemas.current[name]}.bin"
        if path.exists():
            print(f"{path.name}: kept")
            continue
        path.write_bytes(dumps(sample(), name))
        print(f"{path.name}: written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
