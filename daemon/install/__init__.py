"""The installers' room: the systemd user unit and the LaunchAgent that run ``ragd serve`` (``ragd service``)."""
