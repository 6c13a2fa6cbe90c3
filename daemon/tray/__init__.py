"""The tray room: the menu-bar / system-tray shortcut (``ragd tray``), its model, its icon and how it starts the
daemon."""
