"""`make bench`: run every benchmark and print its table."""

from __future__ import annotations

from bench import engine_steps, registry

if __name__ == "__main__":
    engine_steps.main()
    registry.main()
