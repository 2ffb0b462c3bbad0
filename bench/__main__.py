"""`make bench`: run every benchmark and print its table."""

from __future__ import annotations

from bench import broadcast, engine_steps, registry, telegram_path, whatsapp_path

if __name__ == "__main__":
    engine_steps.main()
    telegram_path.main()
    whatsapp_path.main()
    registry.main()
    broadcast.main()
