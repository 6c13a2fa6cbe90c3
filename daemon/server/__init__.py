"""The server room: the daemon's runtime (writer, watcher, change queue, repairs), its HTTP API and web page,
and what keeps it safe (the token, origin checks, sessions)."""
