"""matplotlib, optional: figures are extras (training curves, timelines, benchmark charts)."""

from __future__ import annotations


def pyplot(skipped: str | None = None):
    """``matplotlib.pyplot`` on the file-only Agg backend, or None when matplotlib is not
    installed (then, given ``skipped``, one line saying what is not drawn)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        if skipped:
            print(f"matplotlib is not installed: no {skipped} (pip install matplotlib)")
        return None
    return plt
