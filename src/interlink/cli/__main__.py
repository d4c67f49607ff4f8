"""``python -m interlink.cli``: the same as the ``interlink`` command."""

from interlink.cli import main

if __name__ == "__main__":  # pragma: no cover
    main()
