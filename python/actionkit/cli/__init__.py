"""Command-line tools (console scripts ``actionkit-*``)."""
